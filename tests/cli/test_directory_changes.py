"""``user suspend|reactivate|rename|delete`` and ``group rename|delete``: through the directory's use cases,
each writing the change events SCIM writes; and usage errors ending with exit 1 and one line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scimhub.errors import NotFound, Unauthorized
from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group, add_user


def _events(cli: Cli, urn: str) -> list[dict[str, Any]]:
    """Return the change events of ``urn``, oldest first, as ``events tail --json`` prints them."""
    printed = cli("events", "tail", "--entity", urn, "--json").stdout
    return [json.loads(line) for line in printed.splitlines()]


def test_suspend_and_reactivate_a_user_write_events_and_stop_its_token(cli: Cli, hub: Services) -> None:
    user = add_user(hub, "bjensen")
    token = cli("token", "create", "--name", "t", "--user", "bjensen").stdout.splitlines()[-1]
    before = len(_events(cli, user.urn))
    assert cli("user", "suspend", "BJensen").stdout == "bjensen suspended.\n"
    assert cli("user", "suspend", "bjensen").stdout == "bjensen was suspended already.\n"
    assert hub.users.find("bjensen").user.active is False
    with pytest.raises(Unauthorized):
        hub.tokens.authenticate(token)
    assert len(_events(cli, user.urn)) == before + 1  # the second suspend changed nothing, wrote nothing
    assert cli("user", "reactivate", "bjensen").stdout == "bjensen reactivated.\n"
    assert hub.tokens.authenticate(token).user_id == user.id
    assert len(_events(cli, user.urn)) == before + 2
    assert cli.json("user", "show", "bjensen")["active"] is True


def test_rename_a_user_keeps_its_urn_groups_and_tokens(cli: Cli, hub: Services) -> None:
    user = add_user(hub, "bjensen")
    group = add_group(hub, "Data Team", user)
    token = cli("token", "create", "--name", "t", "--user", "bjensen").stdout.splitlines()[-1]
    before = len(_events(cli, user.urn))
    result = cli("user", "rename", "bjensen", "barbara.jensen@example.com")
    assert result.stdout == f"bjensen is now barbara.jensen@example.com ({user.urn}).\n"
    shown = cli.json("user", "show", "barbara.jensen@example.com")
    assert shown["urn"] == user.urn and [g["id"] for g in shown["groups"]] == [group.id]
    assert hub.tokens.authenticate(token).user_id == user.id
    assert len(_events(cli, user.urn)) == before + 1


def test_rename_to_a_taken_user_name_is_one_line(cli: Cli, hub: Services) -> None:
    add_user(hub, "bjensen"), add_user(hub, "jsmith")
    result = cli.fails("user", "rename", "bjensen", "JSmith")
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert hub.users.find("bjensen").user.user_name == "bjensen"


def test_delete_a_user_asks_then_deletes_it_and_its_tokens(cli: Cli, hub: Services) -> None:
    user = add_user(hub, "bjensen")
    cli("token", "create", "--name", "t", "--user", "bjensen")
    refused = cli.fails("user", "delete", "bjensen", input="n\n")
    assert refused.stderr.endswith("error: aborted, nothing changed\n")
    assert hub.users.find("bjensen").user.id == user.id
    assert cli("user", "delete", "bjensen", input="y\n").stdout.endswith("\nbjensen deleted.\n")
    with pytest.raises(NotFound):
        hub.users.find("bjensen")
    assert cli.json("token", "list") == []
    assert _events(cli, user.urn)[-1]["operation"] == "HARD_DELETE"


def test_rename_and_delete_a_group_write_events_and_keep_its_members(cli: Cli, hub: Services) -> None:
    user = add_user(hub, "bjensen")
    group = add_group(hub, "Data Team", user)
    result = cli("group", "rename", "data team", "Analysts")
    # ADR 0037: the group keeps the URN of its creation
    assert result.stdout == "Data Team is now Analysts (urn:li:corpGroup:Data Team).\n"
    shown = cli.json("group", "show", "analysts")
    assert shown["id"] == group.id and shown["memberCount"] == 1
    renamed = _events(cli, "urn:li:corpGroup:Data Team")[-1]
    assert (renamed["category"], renamed["operation"]) == ("ATTRIBUTE", "MODIFY"), renamed
    assert not _events(cli, "urn:li:corpGroup:Analysts"), "the rename wrote an event under a new URN"
    assert cli("group", "delete", "Analysts", "--yes").stdout == "Group Analysts deleted.\n"
    assert cli.json("group", "list") == []
    assert cli.json("user", "show", "bjensen")["groups"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["token", "revoke"], "error: Missing argument 'TOKEN_ID'. (see `scimhub token revoke --help`)"),
        (["token", "lst"], "error: No such command 'lst'. Did you mean 'list'? (see `scimhub token --help`)"),
        (["user", "list", "--bogus"], "error: No such option: --bogus (see `scimhub user list --help`)"),
        (["token", "create", "--name", "x", "--expires", "SOON"], "error: "),
    ],
)
def test_usage_errors_exit_1_with_one_line(cli: Cli, arguments: list[str], message: str) -> None:
    result = cli.fails(*arguments)
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
