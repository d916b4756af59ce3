"""Options every command shares, and how a command gets its services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from scimhub.cli.database import announce, chosen_url, opening, using
from scimhub.errors import InvalidValue
from scimhub.settings import Settings
from scimhub.wiring import Services, build

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the database [env: SCIMHUB_DATABASE_URL;"
        " default: sqlite:///$XDG_DATA_HOME/scimhub/scimhub.db, ~/.local/share when unset].",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Return the settings from the environment with the command line's options on top.

    Without a database URL from either, the per-user database (ADR 0031).
    """
    using(None)
    return Settings.from_environ(os.environ, database_url=chosen_url(database_url, os.environ), **overrides)


def build_services(config: Settings) -> Services:
    """Return the services for ``config``, migrated; name the database, or say in one line why not."""
    with opening(config.database_url):
        hub = build(config)
    using(config.database_url)
    return hub


def services(database_url: str | None) -> Services:
    """Return the services for a command, with the database migrated."""
    return build_services(settings(database_url))


@contextmanager
def open_services(database_url: str | None) -> Iterator[Services]:
    """Yield the services for a command, release the database when it ends, then name it on stderr."""
    hub = services(database_url)
    try:
        yield hub
    finally:
        hub.close()
    announce()


def ensure_admin(hub: Services, generate: bool = True) -> None:
    """Create the built-in administrator on first use and print its generated password, this once.

    With ``SCIMHUB_ADMIN_PASSWORD`` set, that is its password and nothing is printed.
    Without it and without ``generate`` (``serve``, whose output is a service log),
    admin gets no password; while it has none, how to give it one is printed.
    """
    configured = hub.settings.admin_password
    try:
        admin, generated = hub.accounts.ensure_admin(configured.reveal() if configured else None, generate)
    except InvalidValue as error:
        raise InvalidValue(f"SCIMHUB_ADMIN_PASSWORD: {error.detail}") from None
    if generated is not None:
        typer.echo(
            f"Created the built-in administrator '{admin.user_name}'. Its password, shown only this once"
            f" (change it with `scimhub user set-password {admin.user_name}`):\n  {generated}"
        )
    elif admin.password_hash is None:
        typer.echo(
            f"The built-in administrator '{admin.user_name}' has no password: give it one with"
            f" `scimhub user set-password {admin.user_name}`."
        )
