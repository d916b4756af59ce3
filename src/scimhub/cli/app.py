"""The ``scimhub`` command: serve, tokens, database (Typer).

Every command takes ``--database-url`` (or ``SCIMHUB_DATABASE_URL``). Errors end
the command with exit code 1 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from scimhub.cli import db, serve, tokens
from scimhub.errors import ScimhubError

app = typer.Typer(
    name="scimhub",
    help="An open SCIM 2.0 provisioning service with DataHub's identity model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.add_typer(tokens.app, name="token")
app.add_typer(db.app, name="db")


def main() -> None:
    """Run the command line; report scimhub's own errors in one line."""
    try:
        app()
    except ScimhubError as error:
        typer.echo(f"error: {error.detail}", err=True)
        sys.exit(1)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)

