"""``scimhub db upgrade|check``."""

from __future__ import annotations

from collections.abc import Callable

import typer
from sqlalchemy import Engine

from scimhub.cli.database import announce, opening, using
from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, settings
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine

app = command_group("Database schema.")


def _run(database_url: str | None, step: Callable[[Engine], None], done: str) -> None:
    """Run ``step`` on the database, then name the database and say ``done``."""
    url = settings(database_url).database_url
    with opening(url):
        engine = make_engine(url)
        try:
            step(engine)
        finally:
            engine.dispose()
    using(url)
    announce()
    typer.echo(done)


@app.command("upgrade")
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    _run(database_url, migrate.upgrade, "Database schema is up to date.")


@app.command("check")
def check(database_url: DatabaseUrl = None) -> None:
    """Fail when the tables in code and the migrated schema differ."""
    _run(database_url, migrate.check, "No drift between code and database.")
