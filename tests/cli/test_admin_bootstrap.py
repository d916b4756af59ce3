"""The built-in administrator's first password: configured, or generated and printed once by `token create`,
never by `serve`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from scimhub.cli.app import app
from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.integration.conftest import running_server

PASSWORD = "correct horse battery staple"
PRINTED = "Created the built-in administrator 'admin'"


def generated_password(output: str) -> str:
    """Return the password printed on the line after the announcement."""
    lines = output.splitlines()
    return lines[lines.index(next(line for line in lines if line.startswith(PRINTED))) + 1].strip()


def test_token_create_prints_the_generated_password_once_and_the_token_last(cli: Cli, hub: Services) -> None:
    """The first `token create` creates admin and prints its password;
    the token stays alone on the last line."""
    first = cli("token", "create", "--name", "first").stdout
    password = generated_password(first)
    token = first.splitlines()[-1]
    assert token.count(".") == 2 and password not in token
    assert hub.accounts.sign_in("admin", password).user_id == hub.tokens.authenticate(token).user_id
    second = cli("token", "create", "--name", "second").stdout
    assert PRINTED not in second and password not in second


def test_a_configured_admin_password_is_used_and_not_printed(cli: Cli, hub: Services) -> None:
    """With SCIMHUB_ADMIN_PASSWORD, admin gets it and no password is printed."""
    env = {**cli.env(), "SCIMHUB_ADMIN_PASSWORD": PASSWORD}
    result = CliRunner().invoke(app, ["token", "create", "--name", "ci"], env=env)
    assert result.exit_code == 0, result.output
    assert PRINTED not in result.stdout and PASSWORD not in result.stdout
    hub.accounts.sign_in("admin", PASSWORD)


def test_a_too_short_configured_admin_password_names_the_variable(cli: Cli) -> None:
    """A SCIMHUB_ADMIN_PASSWORD under eight characters stops the command with one line naming it."""
    env = {**cli.env(), "SCIMHUB_ADMIN_PASSWORD": "short"}
    result = CliRunner().invoke(app, ["token", "create", "--name", "ci"], env=env)
    assert result.exit_code == 1
    assert str(result.exception) == "SCIMHUB_ADMIN_PASSWORD: a password needs at least 8 characters"


def test_serve_never_prints_a_password(cli: Cli, hub: Services, tmp_path: Path) -> None:
    """`scimhub serve` on a new database creates admin without a password, and says how to give it one.

    Its output is a service log: a generated password there would be a secret in the log.
    A later `token create` prints no password either (admin exists), and
    `user set-password` gives it one.
    """
    log = tmp_path / "serve.log"
    with running_server(cli.database_url, log, {"SCIMHUB_ADMIN_PASSWORD": ""}):
        pass  # started (admin created, output written) and stopped
    output = log.read_text()
    assert PRINTED not in output
    assert "'admin' has no password: give it one with `scimhub user set-password admin`" in output
    assert PRINTED not in cli("token", "create", "--name", "ci").stdout
    cli("user", "set-password", "admin", "--password-stdin", input=PASSWORD)
    hub.accounts.sign_in("admin", PASSWORD)


def test_serve_gives_admin_the_configured_password_silently(cli: Cli, hub: Services, tmp_path: Path) -> None:
    """With SCIMHUB_ADMIN_PASSWORD, `serve` creates admin with it and prints neither it nor the reminder."""
    log = tmp_path / "serve.log"
    with running_server(cli.database_url, log, {"SCIMHUB_ADMIN_PASSWORD": PASSWORD}):
        pass  # started (admin created, output written) and stopped
    output = log.read_text()
    assert PASSWORD not in output and PRINTED not in output and "has no password" not in output
    hub.accounts.sign_in("admin", PASSWORD)
