"""``scimhub group list|show``, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

from scimhub.cli.database import shown
from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import Role
from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group, add_user


def test_group_list_gives_roles_and_member_counts_in_display_name_order(cli: Cli, hub: Services) -> None:
    """`group list --json` lists every group by displayName with its assigned roles and member count."""
    users = [add_user(hub, f"user-{i}") for i in range(3)]
    ops = add_group(hub, "ops", *users)
    add_group(hub, "Data Team", users[0])
    add_group(hub, "Empty")
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", ops.id)
    listed = cli.json("group", "list")
    assert [(g["displayName"], g["memberCount"], [r["role"] for r in g["roles"]]) for g in listed] == [
        ("Data Team", 1, []),
        ("Empty", 0, []),
        ("ops", 3, ["Admin"]),
    ]
    assert listed[2]["id"] == ops.id and listed[2]["urn"] == "urn:li:corpGroup:ops"
    assert "Data Team" in cli("group", "list").stdout


def test_group_show_gives_roles_member_count_and_first_members(cli: Cli, hub: Services) -> None:
    """`group show` finds the group in any case and lists only its first --members members, by name."""
    users = [add_user(hub, f"user-{i}") for i in range(4)]
    group = add_group(hub, "Data Team", *users)
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", group.id)
    shown = cli.json("group", "show", "DATA TEAM", "--members", "2")
    assert (shown["id"], shown["displayName"], shown["memberCount"]) == (group.id, "Data Team", 4)
    assert shown["roles"] == [{"role": "Editor", "urn": "urn:li:dataHubRole:Editor"}]
    first = sorted(users, key=lambda u: u.id)[:2]
    assert shown["members"] == [{"id": u.id, "type": "User", "name": u.user_name} for u in first]
    table = cli("group", "show", "data team").stdout
    assert "First 4 of 4 members" in table and "Editor" in table


def test_an_unknown_group_exits_1_with_one_line(cli: Cli) -> None:
    """`group show` of no group ends with exit code 1 and one line on stderr."""
    database = shown(cli.database_url)
    expected = f"error: no group has the displayName 'Nobody' (database: {database})\n"
    assert cli.fails("group", "show", "Nobody").stderr == expected
