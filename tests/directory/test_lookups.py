"""Read views the CLI and the API use: users by userName, groups by displayName, with counts."""

from __future__ import annotations

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import Role
from scimhub.errors import NotFound
from scimhub.query.pages import Query
from scimhub.query.paths import resolve
from scimhub.query.schema import GROUP
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user


def test_a_user_is_found_by_user_name_in_any_case(hub: Services) -> None:
    """Users.find() matches userName case-insensitively and lists the user's groups."""
    user = add_user(hub, "Bjensen")
    group = add_group(hub, "Staff", user)
    view = hub.users.find("BJENSEN", with_groups=True)
    assert view.user == user
    assert [g.id for g in view.groups or []] == [group.id]
    with pytest.raises(NotFound, match="no user has the userName 'nobody'"):
        hub.users.find("nobody")


def test_a_group_is_found_by_display_name_in_any_case(hub: Services) -> None:
    """Groups.find() matches displayName case-insensitively, counts members and names the first ones."""
    users = [add_user(hub, f"member-{i}") for i in range(5)]
    inner = add_group(hub, "Inner")
    group = add_group(hub, "Data Team", *users, inner)
    summary = hub.groups.find("data TEAM", first_members=3)
    assert summary.group == group and summary.member_count == 6
    first = sorted([*(u.id for u in users), inner.id])[:3]
    assert [m.value for m in summary.first_members] == first
    names = {u.id: u.user_name for u in users} | {inner.id: "Inner"}
    assert [m.display for m in summary.first_members] == [names[i] for i in first]
    assert hub.groups.find("Data Team").first_members == ()
    with pytest.raises(NotFound, match="no group has the displayName 'Nobody'"):
        hub.groups.find("Nobody")


def test_group_summaries_page_with_member_counts(hub: Services) -> None:
    """Groups.summaries() pages groups in the query's order, each with its member count."""
    user = add_user(hub, "member")
    add_group(hub, "b-group", user)
    add_group(hub, "a-group")
    page = hub.groups.summaries(Query(sort_by=resolve(GROUP, "displayName"), limit=10))
    assert page.total == 2
    assert [(s.group.display_name, s.member_count) for s in page.items] == [("a-group", 0), ("b-group", 1)]


def test_roles_of_groups(hub: Services) -> None:
    """Roles.of_groups() returns each group's assigned roles, none for a group without."""
    with_roles, without = add_group(hub, "Admins"), add_group(hub, "Plain")
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", with_roles.id)
    hub.roles.assign(SYSTEM, Role.READER, "group", with_roles.id)
    found = hub.roles.of_groups([with_roles.id, without.id])
    assert sorted(found[with_roles.id]) == [Role.ADMIN, Role.READER] and found[without.id] == []
