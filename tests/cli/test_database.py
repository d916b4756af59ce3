"""Which database a command uses, named on stderr; a database that cannot be opened is one line, exit 1."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scimhub.cli.app import app
from scimhub.cli.database import shown
from tests.cli.conftest import Cli


def _one_error_line(result: object) -> str:
    """Return the one line a failed command printed on stderr, after checking it printed nothing else."""
    lines = result.stderr.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), result
    assert result.stdout == "", result  # type: ignore[attr-defined]
    return lines[0]


@pytest.mark.parametrize(
    "command", [("token", "list"), ("token", "create", "--name", "x"), ("db", "upgrade")]
)
def test_unreachable_postgresql_is_one_line_naming_it_without_its_password(command: tuple[str, ...]) -> None:
    line = _one_error_line(Cli("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nowhere").fails(*command))
    assert "hunter2" not in line
    assert "database postgresql+psycopg://postgres:***@127.0.0.1:1/nowhere is unreachable" in line
    assert "Connection refused" in line and "check that the server runs" in line


def test_a_refused_postgresql_login_says_what_the_server_said() -> None:
    line = _one_error_line(
        Cli("postgresql+psycopg://no_such_role@127.0.0.1:5432/postgres").fails("user", "list")
    )
    assert 'role "no_such_role" does not exist' in line


def test_a_driver_not_installed_says_which_extra_to_install() -> None:
    assert importlib.util.find_spec("pg8000") is None, "this test needs a PostgreSQL driver that is absent"
    line = _one_error_line(Cli("postgresql+pg8000://postgres@127.0.0.1/db").fails("token", "list"))
    assert "postgresql+pg8000://postgres@127.0.0.1/db: its driver is not installed" in line
    assert "pip install 'scimhub[postgres]'" in line


@pytest.mark.parametrize("command", [("token", "list"), ("db", "upgrade"), ("db", "check"), ("serve",)])
def test_an_sqlite_file_that_cannot_be_made_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"sqlite:///{tmp_path}/missing-directory/scimhub.db"
    line = _one_error_line(Cli(url).fails(*command))
    assert f"database {url} cannot be opened: unable to open database file" in line
    assert "check that its directory exists" in line


def test_not_a_url_is_one_line() -> None:
    line = _one_error_line(Cli("not a url").fails("token", "list"))
    assert "is not a database URL" in line


def test_every_command_names_its_database_on_stderr_and_keeps_stdout_clean(cli: Cli) -> None:
    created = cli("token", "create", "--name", "entra")
    assert f"database: {shown(cli.database_url)}" in created.stderr.splitlines()
    assert "database:" not in created.stdout
    listed = cli("token", "list", "--json")
    assert listed.stderr.splitlines() == [f"database: {shown(cli.database_url)}"]
    assert listed.stdout.lstrip().startswith("[")


def test_shown_hides_the_password_and_makes_a_relative_sqlite_path_absolute(tmp_path: Path) -> None:
    assert shown("postgresql+psycopg://u:pw@h:5/d") == "postgresql+psycopg://u:***@h:5/d"
    assert shown("sqlite:///rel.db") == f"sqlite:///{tmp_path}/rel.db"  # the tests run in tmp_path


def _run(directory: Path, env: dict[str, str | None], *args: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.chdir(directory)
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_without_a_url_every_directory_uses_the_same_per_user_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR 0031: the default is $XDG_DATA_HOME/scimhub/scimhub.db, not a file in the current directory."""
    env: dict[str, str | None] = {
        "SCIMHUB_DATABASE_URL": None,
        "SCIMHUB_ADMIN_PASSWORD": None,
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    created = _run(first, env, "token", "create", "--name", "entra", monkeypatch=monkeypatch)
    listed = _run(second, env, "token", "list", "--json", monkeypatch=monkeypatch)
    expected = f"database: sqlite:///{tmp_path}/data/scimhub/scimhub.db"
    assert expected in created.stderr.splitlines() and expected in listed.stderr.splitlines()  # type: ignore[attr-defined]
    assert [token["name"] for token in json.loads(listed.stdout)] == ["entra"]  # type: ignore[attr-defined]
    assert not list(first.iterdir()) and not list(second.iterdir())
