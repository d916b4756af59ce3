"""``scimhub user list|show|set-password|disable-password``, end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from scimhub.cli import output
from scimhub.cli.app import app
from scimhub.cli.database import shown
from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import Role
from scimhub.errors import Unauthorized
from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group, add_user

PASSWORD = "correct horse battery staple"


def test_user_show_gives_groups_and_direct_inherited_and_effective_roles(cli: Cli, hub: Services) -> None:
    """`user show --json` names each role's origin: provisioned or assigned, or the group it comes through."""
    user = add_user(
        hub, "bjensen", displayName="Barbara Jensen", externalId="e-1", roles=[{"value": "Reader"}]
    )
    team, ops = add_group(hub, "Data Team", user), add_group(hub, "Ops", user)
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", team.id)
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", ops.id)
    hub.roles.assign(SYSTEM, Role.EDITOR, "user", user.id)
    shown = cli.json("user", "show", "BJensen")
    assert shown["id"] == user.id and shown["urn"] == "urn:li:corpuser:bjensen"
    assert (shown["userName"], shown["displayName"], shown["externalId"]) == (
        "bjensen",
        "Barbara Jensen",
        "e-1",
    )
    assert shown["active"] is True and shown["passwordSignIn"] is False
    assert shown["createdAt"].endswith("Z") and shown["lastModifiedAt"].endswith("Z")
    assert [g["displayName"] for g in shown["groups"]] == ["Data Team", "Ops"]
    assert shown["groups"][0] == {
        "id": team.id,
        "displayName": "Data Team",
        "urn": "urn:li:corpGroup:Data Team",
    }
    ops_ref = {"id": ops.id, "urn": "urn:li:corpGroup:Ops", "displayName": "Ops"}
    team_ref = {"id": team.id, "urn": "urn:li:corpGroup:Data Team", "displayName": "Data Team"}
    assert shown["roles"] == {
        "direct": [
            {"role": "Editor", "urn": "urn:li:dataHubRole:Editor", "source": "assigned"},
            {"role": "Reader", "urn": "urn:li:dataHubRole:Reader", "source": "provisioned"},
        ],
        "inherited": [
            {"role": "Admin", "urn": "urn:li:dataHubRole:Admin", "group": ops_ref},
            {"role": "Editor", "urn": "urn:li:dataHubRole:Editor", "group": team_ref},
        ],
        "effective": [{"role": r, "urn": f"urn:li:dataHubRole:{r}"} for r in ("Admin", "Editor", "Reader")],
    }
    table = cli("user", "show", "bjensen").stdout
    assert "inherited from group Data Team" in table and "direct (provisioned)" in table
    assert "Admin, Editor, Reader" in table


def test_user_list_orders_by_user_name_across_pages(
    cli: Cli, hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`user list` reads page by page and prints every user in userName order, with roles and groups."""
    monkeypatch.setattr(output, "PAGE_SIZE", 2)
    names = ["eve", "Carol", "alice", "dave", "bob"]
    users = {name: add_user(hub, name, active=name != "dave") for name in names}
    add_group(hub, "Readers", users["bob"])
    hub.roles.assign(SYSTEM, Role.READER, "user", users["alice"].id)
    hub.accounts.set_password(SYSTEM, "eve", PASSWORD)
    listed = cli.json("user", "list")
    assert [u["userName"] for u in listed] == ["alice", "bob", "Carol", "dave", "eve"]
    by_name = {u["userName"]: u for u in listed}
    assert by_name["alice"]["roles"]["effective"] == [{"role": "Reader", "urn": "urn:li:dataHubRole:Reader"}]
    assert [g["displayName"] for g in by_name["bob"]["groups"]] == ["Readers"]
    assert by_name["dave"]["active"] is False and by_name["eve"]["passwordSignIn"] is True
    table = cli("user", "list").stdout
    assert all(name in table for name in names)


def test_an_unknown_user_exits_1_with_one_line(cli: Cli) -> None:
    """`user show` of nobody ends with exit code 1 and one line on stderr."""
    database = shown(cli.database_url)
    expected = f"error: no user has the userName 'nobody' (database: {database})\n"
    assert cli.fails("user", "show", "nobody").stderr == expected


def test_set_password_prompts_twice_and_enables_sign_in(cli: Cli, hub: Services) -> None:
    """`user set-password` reads the password at a hidden prompt with confirmation;
    the user can then sign in."""
    user = add_user(hub, "bjensen")
    result = cli("user", "set-password", "bjensen", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.stdout.endswith("Password sign-in enabled for bjensen.\n")
    assert PASSWORD not in result.stdout
    assert hub.accounts.sign_in("bjensen", PASSWORD).user_id == user.id
    assert cli.json("user", "show", "bjensen")["passwordSignIn"] is True


def test_set_password_asks_again_when_the_confirmation_differs(cli: Cli, hub: Services) -> None:
    """A confirmation that differs is refused and the prompt repeats;
    the password set is the confirmed one."""
    add_user(hub, "bjensen")
    cli("user", "set-password", "bjensen", input=f"{PASSWORD}\ntypo\n{PASSWORD}!\n{PASSWORD}!\n")
    hub.accounts.sign_in("bjensen", PASSWORD + "!")


def test_set_password_reads_standard_input_without_its_line_break(cli: Cli, hub: Services) -> None:
    """`--password-stdin` takes the piped text minus one trailing line break."""
    add_user(hub, "bjensen")
    assert (
        "enabled"
        in cli("user", "set-password", "bjensen", "--password-stdin", input=PASSWORD + "\r\n").stdout
    )
    hub.accounts.sign_in("bjensen", PASSWORD)


def test_a_password_is_never_taken_from_the_command_line(cli: Cli, hub: Services) -> None:
    """There is no --password option: a password in argv would show in `ps` and in shell history."""
    add_user(hub, "bjensen")
    result = CliRunner().invoke(
        app, ["user", "set-password", "bjensen", "--password", PASSWORD], env=cli.env()
    )
    assert result.exit_code == 2 and "No such option" in result.output
    assert hub.users.find("bjensen").user.password_hash is None


def test_a_too_short_password_exits_1(cli: Cli, hub: Services) -> None:
    """A password under eight characters is refused with exit code 1 and one line on stderr."""
    add_user(hub, "bjensen")
    result = cli.fails("user", "set-password", "bjensen", "--password-stdin", input="short\n")
    database = shown(cli.database_url)
    assert result.stderr == f"error: a password needs at least 8 characters (database: {database})\n"


def test_disable_password_stops_sign_in(cli: Cli, hub: Services) -> None:
    """`user disable-password` clears the password; a second run says there was none."""
    add_user(hub, "bjensen", PASSWORD)
    assert cli("user", "disable-password", "bjensen").stdout == "Password sign-in disabled for bjensen.\n"
    assert cli("user", "disable-password", "bjensen").stdout == "bjensen had no password.\n"
    with pytest.raises(Unauthorized):
        hub.accounts.sign_in("bjensen", PASSWORD)


def test_set_password_for_nobody_fails_before_asking(cli: Cli) -> None:
    """An unknown userName ends `user set-password` before any prompt, with one line on stderr."""
    result = cli.fails("user", "set-password", "nobody", input="")
    assert (
        result.stderr == f"error: no user has the userName 'nobody' (database: {shown(cli.database_url)})\n"
        and "password" not in result.stdout.lower()
    )
