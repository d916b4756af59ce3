"""Searching users by effective role: direct (provisioned or assigned) or through a group, by index."""

from __future__ import annotations

from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import Role
from scimhub.scim.paths import resolve
from scimhub.scim.schema import USER
from scimhub.store.contract import Query
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user

BY_NAME = resolve(USER, "userName")


def names(hub: Services, role: Role, **query: object) -> tuple[int, list[str]]:
    page = hub.users.search(Query(sort_by=BY_NAME, **query), role=role)  # type: ignore[arg-type]
    return page.total, [view.user.user_name for view in page.items]


def test_a_role_finds_its_holders_however_they_hold_it(hub: Services) -> None:
    """Provisioned, assigned and inherited holders are found once each, in order; others are not."""
    add_user(hub, "a-provisioned", roles=[{"value": "Editor"}])
    assigned = add_user(hub, "b-assigned")
    member = add_user(hub, "c-member")
    both = add_user(hub, "d-both", roles=[{"value": "Editor"}])
    add_user(hub, "e-nobody")
    hub.roles.assign(SYSTEM, Role.EDITOR, "user", assigned.id)
    group = add_group(hub, "editors", member, both)
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", group.id)
    assert names(hub, Role.EDITOR) == (4, ["a-provisioned", "b-assigned", "c-member", "d-both"])
    assert names(hub, Role.EDITOR, offset=2, limit=1) == (4, ["c-member"])
    assert names(hub, Role.ADMIN) == (0, [])


def test_taking_a_group_role_away_takes_it_from_the_members(hub: Services) -> None:
    """The role search follows group roles as they change."""
    member = add_user(hub, "member")
    group = add_group(hub, "readers", member)
    hub.roles.assign(SYSTEM, Role.READER, "group", group.id)
    assert names(hub, Role.READER) == (1, ["member"])
    hub.roles.unassign(SYSTEM, Role.READER, "group", group.id)
    assert names(hub, Role.READER, limit=0) == (0, [])
