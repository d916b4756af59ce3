"""Tables for people show every id whole at any width, so a command can take what another showed."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from scimhub.cli.app import app
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _at_width(cli: Cli, columns: int, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={**cli.env(), "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [60, 80])
def test_token_list_shows_whole_ids_that_token_revoke_takes(cli: Cli, columns: int) -> None:
    for name in ("entra", "a token with a rather long name, which must fold rather than be cut"):
        cli("token", "create", "--name", name, "--description", "made by a test")
    ids = {token["id"] for token in cli.json("token", "list")}
    shown = _at_width(cli, columns, "token", "list")
    assert set(UUID.findall(shown)) == ids
    assert "…" not in shown
    for token_id in UUID.findall(shown):
        assert cli("token", "revoke", token_id).stdout == f"Token {token_id} revoked.\n"
    assert cli.json("token", "list") == []


def test_group_list_and_show_keep_ids_whole_at_80_columns(cli: Cli, hub: object) -> None:
    group = add_group(hub, "A group whose display name is long enough to need folding at eighty")  # type: ignore[arg-type]
    assert group.id in _at_width(cli, 80, "group", "list")
    assert group.id in _at_width(cli, 80, "group", "show", group.display_name)


def test_revoking_a_revoked_or_unknown_token_says_which(cli: Cli) -> None:
    """A second revoke says the token was already revoked; an id never issued says so, in one line each."""
    created = cli("token", "create", "--name", "entra").stdout
    token_id = UUID.findall(created)[0]
    cli("token", "revoke", token_id)
    again = cli.fails("token", "revoke", token_id).stderr
    assert (
        again.startswith(f"error: token {token_id} was already revoked (database: ")
        and again.count("\n") == 1
    )
    unknown = cli.fails("token", "revoke", "9d1c5b0e-0000-4000-8000-000000000000").stderr
    assert unknown.startswith(
        "error: no token has the id 9d1c5b0e-0000-4000-8000-000000000000 in this database"
    )
    assert unknown.count("\n") == 1
