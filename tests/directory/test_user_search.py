"""The console's user search: by effective role (direct or through a group), prefix and status, by index."""

from __future__ import annotations

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.domain.roles import Role
from scimhub.query.pages import Query
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
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


def test_a_prefix_finds_users_by_username_display_name_or_email_in_any_case(hub: Services) -> None:
    """The prefix starts the userName, the displayName or any email; the current displayName counts."""
    add_user(hub, "alice@contoso.example", displayName="Alice Liddell")
    bob = add_user(
        hub, "bob@contoso.example", displayName="Robert", emails=[{"value": "ROB@fabrikam.example"}]
    )
    add_user(hub, "carol@contoso.example")

    def found(prefix: str) -> list[str]:
        page = hub.users.search(Query(sort_by=BY_NAME), prefix=prefix)
        return [view.user.user_name for view in page.items]

    assert found("ALI") == ["alice@contoso.example"]
    assert found("alice liddell") == ["alice@contoso.example"]
    assert found("rob@FAB") == ["bob@contoso.example"]
    assert found("rob") == ["bob@contoso.example"]  # displayName and email: found once
    assert found("x") == []
    hub.users.update(SYSTEM, bob.id, lambda u: UserEdit({**u.doc, "displayName": "Bobby"}))
    assert found("robert") == [] and found("bobby") == ["bob@contoso.example"]


def test_status_and_role_narrow_together(hub: Services) -> None:
    """active and role combine with a prefix; counts are exact."""
    editor = add_user(hub, "ed-1", roles=[{"value": "Editor"}])
    add_user(hub, "ed-2", roles=[{"value": "Editor"}], active=False)
    add_user(hub, "other", active=False)
    assert editor.active
    suspended = hub.users.search(Query(sort_by=BY_NAME), active=False)
    assert suspended.total == 2 and [v.user.user_name for v in suspended.items] == ["ed-2", "other"]
    both = hub.users.search(Query(sort_by=BY_NAME), active=True, role=Role.EDITOR, prefix="ed")
    assert both.total == 1 and [v.user.user_name for v in both.items] == ["ed-1"]
    active = hub.users.search(Query(sort_by=BY_NAME, limit=0), active=True)
    assert active.total == 1


def test_a_role_reaches_members_of_nested_groups_as_their_grants_say(hub: Services) -> None:
    """A group's role reaches the members of its member groups (ADR 0038); the search agrees with grants."""
    deep = add_user(hub, "deep-member")
    inner = add_group(hub, "inner", deep)
    outer = add_group(hub, "outer", inner)
    add_group(hub, "cycle", outer)  # outer is in cycle, which is in nothing: no loop
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", outer.id)
    assert Role.ADMIN in hub.roles.of_users([deep.id])[deep.id].effective
    assert names(hub, Role.ADMIN) == (1, ["deep-member"])
