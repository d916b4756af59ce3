"""Every write appends its change events in its own transaction; a failed write appends none (issue 6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Privilege, Role
from scimhub.errors import Forbidden, InvalidValue, NotFound, PreconditionFailed, Uniqueness
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user

ADMIN = Actor("admin-id", "urn:li:corpuser:admin", privileges=frozenset(Privilege))
Row = tuple[str, str, str, str, str | None, dict[str, Any]]
"""(entity type, entity URN, category, operation, modifier, parameters)."""


def head(hub: Services) -> int:
    with hub.store.read() as tx:
        return tx.events.state().head


def events_since(hub: Services, seq: int, actor: str = ADMIN.urn) -> list[Row]:
    """Return the events committed after ``seq``, checking each was made by ``actor``."""
    with hub.store.read() as tx:
        recorded = tx.events.after(seq, 1000)
    assert all(r.event.actor == actor for r in recorded)
    return [
        (e.entity_type, e.entity_urn, e.category.value, e.operation.value, e.modifier, e.parameters)
        for e in (r.event for r in recorded)
    ]


def test_creating_a_user_records_create_and_its_provisioned_roles(hub: Services) -> None:
    """POST /Users: LIFECYCLE CREATE, then ROLE_MEMBERSHIP ADD per provisioned role, with the token's user."""
    start = head(hub)
    hub.users.create(ADMIN, UserEdit({"userName": "bjensen", "roles": [{"value": "Editor"}]}))
    assert events_since(hub, start) == [
        ("corpuser", "urn:li:corpuser:bjensen", "LIFECYCLE", "CREATE", None, {}),
        (
            "corpuser",
            "urn:li:corpuser:bjensen",
            "ROLE_MEMBERSHIP",
            "ADD",
            "urn:li:dataHubRole:Editor",
            {"roleUrn": "urn:li:dataHubRole:Editor", "source": "provisioned"},
        ),
    ]


def test_a_user_created_inactive_is_recorded_as_suspended(hub: Services) -> None:
    """A user provisioned with active false: CREATE, then SOFT_DELETE, so a consumer knows its state."""
    start = head(hub)
    hub.users.create(ADMIN, UserEdit({"userName": "sleeper", "active": False}))
    assert [row[3] for row in events_since(hub, start)] == ["CREATE", "SOFT_DELETE"]


def test_deactivating_and_reactivating_is_soft_delete_and_reinstate(hub: Services) -> None:
    """active false → SOFT_DELETE; true again → REINSTATE; other attributes → one ATTRIBUTE MODIFY."""
    user = add_user(hub, "mover", displayName="Mover")
    start = head(hub)
    hub.users.update(ADMIN, user.id, lambda u: UserEdit({**u.doc, "active": False, "title": "Boss"}))
    hub.users.update(ADMIN, user.id, lambda u: UserEdit({**u.doc, "active": True}))
    assert events_since(hub, start) == [
        ("corpuser", "urn:li:corpuser:mover", "LIFECYCLE", "SOFT_DELETE", None, {}),
        ("corpuser", "urn:li:corpuser:mover", "ATTRIBUTE", "MODIFY", None, {"attributes": ["title"]}),
        ("corpuser", "urn:li:corpuser:mover", "LIFECYCLE", "REINSTATE", None, {}),
    ]


def test_a_write_that_changes_nothing_records_nothing(hub: Services) -> None:
    """Re-sending the stored state (Entra's idempotent PATCH) appends no event."""
    user = add_user(hub, "steady", displayName="Steady")
    start = head(hub)
    hub.users.update(ADMIN, user.id, lambda u: UserEdit(dict(u.doc)))
    assert events_since(hub, start) == []


def test_provisioned_role_changes_are_role_membership_events(hub: Services) -> None:
    """Changing the SCIM roles attribute records one ADD or REMOVE per role, source provisioned."""
    user = add_user(hub, "climber", roles=[{"value": "Reader"}])
    start = head(hub)
    hub.users.update(ADMIN, user.id, lambda u: UserEdit({**u.doc, "roles": [{"value": "Admin"}]}))
    assert [(r[2], r[3], r[4]) for r in events_since(hub, start)] == [
        ("ROLE_MEMBERSHIP", "ADD", "urn:li:dataHubRole:Admin"),
        ("ROLE_MEMBERSHIP", "REMOVE", "urn:li:dataHubRole:Reader"),
    ]


def test_deleting_a_user_or_group_is_hard_delete(hub: Services) -> None:
    """DELETE is LIFECYCLE HARD_DELETE; the memberships it ends are implied, not listed (ADR 0010)."""
    user = add_user(hub, "leaver")
    group = add_group(hub, "Leavers", user)
    start = head(hub)
    hub.users.delete(ADMIN, user.id)
    hub.groups.delete(ADMIN, group.id)
    assert events_since(hub, start) == [
        ("corpuser", "urn:li:corpuser:leaver", "LIFECYCLE", "HARD_DELETE", None, {}),
        ("corpGroup", "urn:li:corpGroup:Leavers", "LIFECYCLE", "HARD_DELETE", None, {}),
    ]


def test_group_membership_changes_name_the_member_and_the_group(hub: Services) -> None:
    """A group's create and PATCH record GROUP_MEMBERSHIP ADD/REMOVE per member really changed."""
    alice, bob = add_user(hub, "alice"), add_user(hub, "bob")
    start = head(hub)
    group = hub.groups.create(
        ADMIN, GroupEdit({"displayName": "Stewards"}, MemberChange(add=(Member(alice.id),)))
    )
    for change in (
        MemberChange(add=(Member(bob.id), Member(alice.id))),
        MemberChange(remove=frozenset({alice.id})),
    ):
        hub.groups.update(ADMIN, group.id, lambda g, change=change: GroupEdit(g.doc, change))  # type: ignore[misc]
    membership = {"groupUrn": "urn:li:corpGroup:Stewards"}
    assert events_since(hub, start) == [
        ("corpGroup", "urn:li:corpGroup:Stewards", "LIFECYCLE", "CREATE", None, {}),
        ("corpuser", "urn:li:corpuser:alice", "GROUP_MEMBERSHIP", "ADD", membership["groupUrn"], membership),
        ("corpuser", "urn:li:corpuser:bob", "GROUP_MEMBERSHIP", "ADD", membership["groupUrn"], membership),
        (
            "corpuser",
            "urn:li:corpuser:alice",
            "GROUP_MEMBERSHIP",
            "REMOVE",
            membership["groupUrn"],
            membership,
        ),
    ]


def test_a_nested_group_membership_is_recorded_with_the_group_as_entity(hub: Services) -> None:
    """A group added to a group is a change too: GROUP_MEMBERSHIP with entityType corpGroup."""
    inner = add_group(hub, "Inner")
    outer = add_group(hub, "Outer")
    start = head(hub)
    hub.groups.update(ADMIN, outer.id, lambda g: GroupEdit(g.doc, MemberChange(add=(Member(inner.id),))))
    hub.groups.update(ADMIN, outer.id, lambda g: GroupEdit(g.doc, MemberChange(remove=frozenset({inner.id}))))
    assert [(r[0], r[1], r[3], r[4]) for r in events_since(hub, start)] == [
        ("corpGroup", "urn:li:corpGroup:Inner", "ADD", "urn:li:corpGroup:Outer"),
        ("corpGroup", "urn:li:corpGroup:Inner", "REMOVE", "urn:li:corpGroup:Outer"),
    ]


def test_one_change_that_adds_and_removes_names_every_member_it_changed(hub: Services) -> None:
    """The URNs of the added come from the check that they exist; those of the removed, of either type,
    are read after; a member removed and added back in the same change is neither."""
    alice, bob, carol = add_user(hub, "alice"), add_user(hub, "bob"), add_user(hub, "carol")
    inner, outer = add_group(hub, "Inner"), add_group(hub, "Outer")
    before = (Member(alice.id), Member(bob.id), Member(inner.id))
    hub.groups.update(ADMIN, outer.id, lambda g: GroupEdit(g.doc, MemberChange(add=before)))
    start = head(hub)
    change = MemberChange(
        remove=frozenset({alice.id, bob.id, inner.id}), add=(Member(bob.id), Member(carol.id))
    )
    hub.groups.update(ADMIN, outer.id, lambda g: GroupEdit(g.doc, change))
    assert sorted((r[0], r[1], r[3], r[4]) for r in events_since(hub, start)) == [
        ("corpGroup", "urn:li:corpGroup:Inner", "REMOVE", "urn:li:corpGroup:Outer"),
        ("corpuser", "urn:li:corpuser:alice", "REMOVE", "urn:li:corpGroup:Outer"),
        ("corpuser", "urn:li:corpuser:carol", "ADD", "urn:li:corpGroup:Outer"),
    ]


def test_assigning_roles_records_role_membership_with_source_assigned(hub: Services) -> None:
    """Role assign/unassign (API and CLI) on users and groups: ROLE_MEMBERSHIP ADD/REMOVE, once."""
    user = add_user(hub, "helper")
    group = add_group(hub, "Helpers")
    start = head(hub)
    assert hub.roles.assign(ADMIN, Role.EDITOR, "user", user.id)
    assert not hub.roles.assign(ADMIN, Role.EDITOR, "user", user.id)  # held already: nothing recorded
    assert hub.roles.assign(ADMIN, Role.READER, "group", group.id)
    assert hub.roles.unassign(ADMIN, Role.EDITOR, "user", user.id)
    assigned = "assigned"
    assert events_since(hub, start) == [
        (
            "corpuser",
            "urn:li:corpuser:helper",
            "ROLE_MEMBERSHIP",
            "ADD",
            Role.EDITOR.urn,
            {"roleUrn": Role.EDITOR.urn, "source": assigned},
        ),
        (
            "corpGroup",
            "urn:li:corpGroup:Helpers",
            "ROLE_MEMBERSHIP",
            "ADD",
            Role.READER.urn,
            {"roleUrn": Role.READER.urn, "source": assigned},
        ),
        (
            "corpuser",
            "urn:li:corpuser:helper",
            "ROLE_MEMBERSHIP",
            "REMOVE",
            Role.EDITOR.urn,
            {"roleUrn": Role.EDITOR.urn, "source": assigned},
        ),
    ]


def test_the_operator_is_the_actor_of_command_line_changes(hub: Services) -> None:
    """The CLI acts as the system actor, and its events say so."""
    start = head(hub)
    add_user(hub, "from-cli")
    assert len(events_since(hub, start, actor=SYSTEM.urn)) == 1


def test_failed_writes_publish_nothing(hub: Services) -> None:
    """A write refused half-way (after its events were appended) rolls them back with it."""
    taken = add_user(hub, "taken")
    group = add_group(hub, "Group")
    add_group(hub, "taken-group")
    start = head(hub)
    with pytest.raises(Uniqueness):
        hub.users.create(ADMIN, UserEdit({"userName": "TAKEN"}))
    with pytest.raises(InvalidValue):  # the group is inserted, CREATE appended, then a member is unknown
        hub.groups.create(ADMIN, GroupEdit({"displayName": "New"}, MemberChange(add=(Member("nobody"),))))
    with pytest.raises(PreconditionFailed):
        hub.users.update(ADMIN, taken.id, lambda u: UserEdit({**u.doc, "title": "x"}), frozenset({99}))
    with pytest.raises(Uniqueness):
        add_user(hub, "other")
        hub.groups.update(ADMIN, group.id, lambda g: GroupEdit({"displayName": "TAKEN-GROUP"}))
    with pytest.raises(NotFound):
        hub.roles.assign(ADMIN, Role.ADMIN, "user", "no-such-user")
    with pytest.raises(Forbidden):
        hub.roles.assign(replace(ADMIN, privileges=frozenset()), Role.ADMIN, "user", taken.id)
    assert [row[1] for row in events_since(hub, start, actor=SYSTEM.urn)] == ["urn:li:corpuser:other"]
