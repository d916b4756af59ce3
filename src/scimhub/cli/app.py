"""The ``scimhub`` command: serve, tokens, roles, users, groups, database, doctor (Typer).

Every command takes ``--database-url`` (or ``SCIMHUB_DATABASE_URL``). Errors end
the command with exit code 1 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from scimhub.cli import datahub, db, doctor, events, groups, roles, serve, tokens, users
from scimhub.cli.database import naming
from scimhub.cli.help import command_group
from scimhub.cli.summary import scimhub_version
from scimhub.errors import ScimhubError

app = command_group(
    "An open SCIM 2.0 provisioning service with DataHub's identity model.",
    name="scimhub",
    add_completion=True,  # --install-completion and --show-completion for bash, zsh, fish, PowerShell
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
    """Run the command line; end every error, usage errors included, with exit code 1 and one line.

    Click's own handling would print a usage block and exit 2 for a usage error;
    the README promises one line and exit 1 for every error, so click runs
    without its standalone handling and this reports what it raises.
    """
    logging.getLogger("scimhub").addHandler(logging.NullHandler())  # the error line says it; no log too
    try:
        code = app(prog_name="scimhub", standalone_mode=False)
    except ScimhubError as error:
        _fail(naming(error.detail))
    except ValueError as error:
        _fail(naming(str(error)))
    except NoArgsIsHelpError as error:  # `scimhub` or `scimhub token` alone: the help, not an error
        assert error.ctx is not None
        typer.echo(error.ctx.get_help())
        sys.exit(0)
    except UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "scimhub"
        _fail(f"{error.format_message()} (see `{where} --help`)")
    except ClickException as error:
        _fail(error.format_message())
    except typer.Abort:
        _fail("aborted, nothing changed")
    sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str) -> NoReturn:
    """Print ``line`` as the command's one error line on stderr and exit 1."""
    typer.echo(f"error: {line}", err=True)
    sys.exit(1)
