"""The ``scimhub`` command: serve, tokens, roles, users, groups, database, doctor (Typer).

Every command takes ``--database-url`` (or ``SCIMHUB_DATABASE_URL``). Errors end
the command with exit code 1 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from scimhub.cli import datahub, db, doctor, events, groups, roles, serve, tokens, users
from scimhub.cli.database import naming
from scimhub.cli.help import command_group
from scimhub.cli.summary import scimhub_version
from scimhub.errors import ScimhubError

app = command_group(
    "An open SCIM 2.0 provisioning service with DataHub's identity model.",
    name="scimhub",
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"scimhub {scimhub_version()}")
        raise typer.Exit()


@app.callback(help=app.info.help)
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    """Take the options that come before any command (``--version``)."""


app.command("serve")(serve.serve)
app.add_typer(tokens.app, name="token")
app.add_typer(roles.app, name="role")
app.add_typer(users.app, name="user")
app.add_typer(groups.app, name="group")
app.add_typer(events.app, name="events")
app.add_typer(db.app, name="db")
app.add_typer(datahub.app, name="datahub")
app.command("doctor")(doctor.doctor)


def main() -> None:
    """Run the command line; report scimhub's own errors in one line."""
    logging.getLogger("scimhub").addHandler(logging.NullHandler())  # the error line says it; no log too
    try:
        app()
    except ScimhubError as error:
        typer.echo(f"error: {naming(error.detail)}", err=True)
        sys.exit(1)
    except ValueError as error:
        typer.echo(f"error: {naming(str(error))}", err=True)
        sys.exit(1)
