"""``scimhub role list|assign|unassign`` (docs/architecture.md §3), end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group, add_user


def test_role_list_names_the_roles_their_privileges_and_direct_holders(cli: Cli, hub: Services) -> None:
    """`role list --json` lists Admin, Editor, Reader with privileges
    and the users and groups holding each."""
    user = add_user(hub, "bjensen", roles=[{"value": "reader"}])
    group = add_group(hub, "Data Team")
    cli("role", "assign", "--role", "Editor", "--group", "Data Team")
    roles = {item["name"]: item for item in cli.json("role", "list")}
    assert list(roles) == ["Admin", "Editor", "Reader"]
    assert roles["Admin"]["urn"] == "urn:li:dataHubRole:Admin"
    assert {"MANAGE_USERS_AND_GROUPS", "MANAGE_ACCESS_TOKENS"} <= set(roles["Admin"]["privileges"])
    assert roles["Editor"]["privileges"] and roles["Reader"]["privileges"] == []
    assert roles["Editor"]["groups"] == [{"id": group.id, "displayName": "Data Team"}]
    assert roles["Reader"]["users"] == [{"id": user.id, "userName": "bjensen", "source": "provisioned"}]
    table = cli("role", "list").stdout
    assert all(name in table for name in ("Admin", "Editor", "Reader", "Can do everything on the platform."))


def test_assign_to_a_user_and_to_a_group_by_name(cli: Cli, hub: Services) -> None:
    """Roles go to a user by userName and to a group by displayName, in any case; members inherit."""
    add_user(hub, "bjensen")
    add_group(hub, "Data Team", hub.users.find("bjensen").user)
    assert (
        cli("role", "assign", "--role", "editor", "--user", "BJENSEN").stdout
        == "Assigned Editor to user bjensen.\n"
    )
    assert "already had Editor" in cli("role", "assign", "--role", "Editor", "--user", "bjensen").stdout
    assert (
        "Assigned Reader to group Data Team."
        in cli("role", "assign", "--role", "READER", "--group", "data team").stdout
    )
    roles = cli.json("user", "show", "bjensen")["roles"]
    assert [(r["role"], r["source"]) for r in roles["direct"]] == [("Editor", "assigned")]
    assert [(r["role"], r["group"]["displayName"]) for r in roles["inherited"]] == [("Reader", "Data Team")]
    assert [r["role"] for r in roles["effective"]] == ["Editor", "Reader"]


def test_unassign_takes_only_assigned_roles(cli: Cli, hub: Services) -> None:
    """`role unassign` removes an assignment; a role from SCIM's roles attribute stays, and it says so."""
    add_user(hub, "bjensen", roles=[{"value": "Admin"}])
    group = add_group(hub, "Data Team")
    cli("role", "assign", "--role", "Admin", "--user", "bjensen")
    cli("role", "assign", "--role", "Editor", "--group", group.display_name)
    output = cli("role", "unassign", "--role", "Admin", "--user", "bjensen").stdout
    assert output.splitlines() == [
        "Took Admin from user bjensen.",
        "bjensen still holds Admin through its SCIM roles attribute, which only SCIM changes.",
    ]
    assert cli.json("user", "show", "bjensen")["roles"]["direct"] == [
        {"role": "Admin", "urn": "urn:li:dataHubRole:Admin", "source": "provisioned"}
    ]
    assert cli("role", "unassign", "--role", "Editor", "--group", "DATA TEAM").stdout == (
        "Took Editor from group Data Team.\n"
    )
    assert (
        "had no Editor assigned" in cli("role", "unassign", "--role", "Editor", "--group", "Data Team").stdout
    )
    assert cli.json("group", "show", "Data Team")["roles"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--role", "Owner", "--user", "admin"],
            "error: 'Owner' is not a role; the roles are Admin, Editor, Reader",
        ),
        (["--role", "Admin"], "error: name exactly one of --user USERNAME or --group DISPLAYNAME"),
        (
            ["--role", "Admin", "--user", "a", "--group", "b"],
            "error: name exactly one of --user USERNAME or --group",
        ),
        (["--role", "Admin", "--user", "nobody"], "error: no user has the userName 'nobody'"),
        (["--role", "Admin", "--group", "Nobody"], "error: no group has the displayName 'Nobody'"),
    ],
)
def test_a_bad_assignment_exits_1_with_one_line(cli: Cli, arguments: list[str], message: str) -> None:
    """Errors end `role assign` with exit code 1 and one line on stderr, no traceback, nothing on stdout."""
    result = cli.fails("role", "assign", *arguments)
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert result.stdout == ""
