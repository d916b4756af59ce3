"""``--help`` of every command: plain text with its defaults and environment variables, no type noise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from scimhub.cli.app import app


def _paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the path of every group and command under ``command``."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _paths(sub, (*path, name))


COMMANDS = list(_paths(typer.main.get_command(app)))


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_reached() -> None:
    assert ("token", "create") in COMMANDS and ("serve",) in COMMANDS and len(COMMANDS) > 20


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "scimhub")
def test_help_names_values_not_python_types(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert text.startswith("Usage: scimhub")
    for noise in ("<str>", "<bool>", "<int>", "{", "}", "╭"):
        assert noise not in text, (noise, text)


@pytest.mark.parametrize("path", [p for p in COMMANDS if len(p) == 2 or p == ("serve",)])
def test_database_option_shows_its_variable_and_default(path: tuple[str, ...]) -> None:
    text = " ".join(_help(*path).split())
    if "--database-url" not in text:
        pytest.skip("takes no database")
    assert "[env: SCIMHUB_DATABASE_URL; default: sqlite:///" in text


def test_serve_shows_defaults_and_variables() -> None:
    text = " ".join(_help("serve").split())
    assert "--host TEXT Interface to listen on [env: SCIMHUB_HOST; default: 127.0.0.1]" in text
    assert "[env: SCIMHUB_PORT; default: 8080]" in text
    assert "[env: SCIMHUB_WORKERS; default: 1]" in text


def test_token_create_shows_its_defaults_and_arguments_read_plainly() -> None:
    text = " ".join(_help("token", "create").split())
    assert "--user TEXT The userName the token acts as. [default: admin]" in text
    assert "[default: NO_EXPIRY]" in text
    assert "Usage: scimhub token revoke [OPTIONS] TOKEN_ID" in " ".join(_help("token", "revoke").split())


def test_token_create_lists_every_accepted_expires_value() -> None:
    from scimhub.domain.tokens import Duration

    text = " ".join(_help("token", "create").split())
    assert "--expires DURATION One of " + ", ".join(d.value for d in Duration) in text


def test_shell_completion_is_offered_and_completes_commands() -> None:
    import os
    import subprocess
    import sys

    assert "--install-completion" in _help()
    env = {**os.environ, "COMP_WORDS": "scimhub us", "COMP_CWORD": "1", "_SCIMHUB_COMPLETE": "complete_bash"}
    code = "import sys; sys.argv[0] = 'scimhub'; from scimhub.cli.app import main; main()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["user"], done
