"""Options every command shares, and how a command gets its services."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from scimhub.settings import Settings
from scimhub.wiring import Services, build

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the database [env: SCIMHUB_DATABASE_URL; default: sqlite:///scimhub.db].",
        show_default=False,
    ),
]


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Return the settings from the environment with the command line's options on top."""
    return Settings.from_environ(os.environ, database_url=database_url, **overrides)


def services(database_url: str | None) -> Services:
    """Return the services for a command, with the database migrated."""
    return build(settings(database_url))
