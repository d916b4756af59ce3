"""``scimhub token create|list`` name users by their kept URNs, and list tokens whose creator is gone."""

from __future__ import annotations

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Privilege
from scimhub.wiring import Services
from tests.cli.conftest import Cli
from tests.directory.conftest import add_user
from tests.directory.test_renames import rename


def test_token_create_names_the_actor_by_the_urn_it_was_created_with(cli: Cli, hub: Services) -> None:
    """After a rename, `token create --user <new name>` names the URN from creation (ADR 0008)."""
    user = add_user(hub, "jdoe")
    rename(hub, user.id, "jsmith")
    output = cli("token", "create", "--name", "ci", "--user", "jsmith").stdout
    assert "acts as urn:li:corpuser:jdoe;" in output


def test_token_list_shows_a_token_whose_creator_was_deleted(cli: Cli, hub: Services) -> None:
    """A token an administrator made for another user outlives the administrator: listed, owner null."""
    creator = add_user(hub, "it-admin")
    add_user(hub, "entra")
    administrator = Actor(creator.id, creator.urn, privileges=frozenset(Privilege))
    _, view = hub.tokens.issue(administrator, UserRef.by_name("entra"), "entra")
    hub.users.delete(SYSTEM, creator.id)
    listed = cli.json("token", "list")
    assert [(t["id"], t["actor"], t["owner"]) for t in listed] == [
        (view.record.id, "urn:li:corpuser:entra", None)
    ]
