"""``python -m scimhub``."""

from scimhub.cli.app import main

main()
