"""``scimhub db upgrade|check``."""

from __future__ import annotations

import typer

from scimhub.cli.database import announce, opening, using
from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, settings
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine

app = command_group("Database schema.")


@app.command("upgrade")
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    url = settings(database_url).database_url
    with opening(url):
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
    using(url)
    announce()
    typer.echo("Database schema is up to date.")


@app.command("check")
def check(database_url: DatabaseUrl = None) -> None:
    """Fail when the tables in code and the migrated schema differ."""
    url = settings(database_url).database_url
    with opening(url):
        engine = make_engine(url)
        try:
            migrate.check(engine)
        finally:
            engine.dispose()
    using(url)
    announce()
    typer.echo("No drift between code and database.")
