"""The command-line options every benchmark command shares, so that they read the same everywhere."""

from __future__ import annotations

import argparse

from servers import POSTGRES_ADMIN_URL

BACKENDS = ("sqlite", "postgresql")


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend`` and ``--postgres-url`` to a benchmark command's parser."""
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_ADMIN_URL,
        help="a PostgreSQL server's admin database, to create the benchmark database on",
    )


def chosen_backends(args: argparse.Namespace) -> list[str]:
    """Return the backends ``--backend`` names, in the order they are measured."""
    return list(BACKENDS) if args.backend == "both" else [args.backend]
