"""The pusher against a recording sink: what a batch pushes, the checkpoint, the lease (both backends)."""

from __future__ import annotations

import threading

import pytest

from scimhub.datahub.mapping import Change, Proposal, Removal
from scimhub.datahub.pusher import LostLease, PushBusy, Pusher, PushOptions
from scimhub.datahub.sink import GmsUnavailable, PushRefused, RecordingSink
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.domain.users import user_urn
from scimhub.errors import Uniqueness
from scimhub.store.records import PushedEntity
from scimhub.wiring import Services, now_micros
from tests.directory.conftest import add_group, add_user

ENG = "urn:li:corpGroup:Engineering"
ALICE = "urn:li:corpuser:alice"


class Clock:
    """A clock the test moves: microseconds since the epoch."""

    def __init__(self) -> None:
        self.now = now_micros()

    def __call__(self) -> int:
        return self.now


def pusher(hub: Services, sink: RecordingSink, clock: Clock | None = None, holder: str = "one") -> Pusher:
    options = PushOptions(skip=frozenset({user_urn("admin")}), backoff_first=0.01, poll_seconds=0.01)
    return Pusher(hub.store, lambda: sink, clock or now_micros, options, holder)


def aspects(changes: list[Change], urn: str) -> dict[str, object]:
    return {c.aspect: c.value for c in changes if isinstance(c, Proposal) and c.urn == urn}


def entities(changes: list[Change]) -> list[tuple[str, str]]:
    """Return (urn, kind) per entity in the order first pushed; kind is ``upsert`` or ``delete``."""
    seen = [(c.urn, "upsert" if isinstance(c, Proposal) else "delete") for c in changes]
    return list(dict.fromkeys(seen))


def drain(p: Pusher) -> None:
    p.run(threading.Event(), until_caught_up=True)


def test_a_batch_pushes_the_current_state_of_what_it_touched(hub: Services) -> None:
    """Groups come first, then users, each with every aspect; the user lists its groups and direct roles."""
    alice = add_user(
        hub,
        "alice",
        displayName="Alice",
        name={"givenName": "Alice", "familyName": "Liddell", "formatted": "Alice Liddell"},
        emails=[{"value": "alice@example.com", "type": "work"}],
        roles=[{"value": "Editor", "primary": True}],
        externalId="a-1",
    )
    add_group(hub, "Engineering", alice)
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert entities(sink.changes) == [(ENG, "upsert"), (ALICE, "upsert")]
    found = aspects(sink.changes, ALICE)
    assert list(found) == [
        "corpUserInfo",
        "corpUserStatus",
        "origin",
        "status",
        "groupMembership",
        "roleMembership",
    ]
    assert found["corpUserInfo"] == {
        "customProperties": {},
        "active": True,
        "displayName": "Alice",
        "email": "alice@example.com",
        "firstName": "Alice",
        "lastName": "Liddell",
        "fullName": "Alice Liddell",
        "system": False,
    }
    assert found["origin"] == {"type": "EXTERNAL", "externalType": "SCIM_client_a-1"}
    assert found["groupMembership"] == {"groups": [ENG]}
    assert found["roleMembership"] == {"roles": ["urn:li:dataHubRole:Editor"]}
    assert aspects(sink.changes, ENG)["origin"] == {"type": "EXTERNAL", "externalType": "SCIM_client_null"}


def test_many_changes_to_one_user_push_it_once(hub: Services) -> None:
    """A batch that touched a user five times pushes its last state once."""
    alice = add_user(hub, "alice")
    for title in ("a", "b", "c", "d"):
        hub.users.update(SYSTEM, alice.id, lambda u, t=title: UserEdit({**u.doc, "title": t}))
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert entities(sink.changes) == [(ALICE, "upsert")]
    assert aspects(sink.changes, ALICE)["corpUserInfo"]["title"] == "d"  # type: ignore[index]


def test_a_failed_push_keeps_the_checkpoint_and_is_pushed_again(hub: Services) -> None:
    """The checkpoint moves only after the sink took the batch; the retry pushes the same entities."""
    add_user(hub, "alice")
    sink = RecordingSink([GmsUnavailable("down"), GmsUnavailable("down")])
    p = pusher(hub, sink)
    p.take_lead()
    with pytest.raises(GmsUnavailable):
        p.step()
    assert p.status().checkpoint == 0 and p.status().lag > 0
    drain(p)  # one more failure, then success
    assert sink.pushes == 3
    assert entities(sink.changes) == [(ALICE, "upsert")]
    status = p.status()
    assert (status.state, status.lag, status.failures) == ("ok", 0, 0)
    assert status.last_error == "down"


def test_a_refused_push_halts_and_gives_the_lease_up(hub: Services) -> None:
    """A refusal is recorded as halted with its message, the lease is released, and the run raises."""
    add_user(hub, "alice")
    p = pusher(hub, RecordingSink([PushRefused("token refused: fix SCIMHUB_DATAHUB_TOKEN")]))
    with pytest.raises(PushRefused):
        p.run(threading.Event())
    status = p.status()
    assert (status.state, status.leader) == ("halted", None)
    assert status.last_error == "token refused: fix SCIMHUB_DATAHUB_TOKEN"


def test_a_deleted_group_is_removed_from_its_members_before_it_is_deleted(hub: Services) -> None:
    """As DataHub's SCIM server does: members are written without the group, then the group goes."""
    alice = add_user(hub, "alice")
    group = add_group(hub, "Engineering", alice)
    drain(pusher(hub, RecordingSink()))
    hub.groups.delete(SYSTEM, group.id)
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert entities(sink.changes) == [(ALICE, "upsert"), (ENG, "delete")]
    assert aspects(sink.changes, ALICE)["groupMembership"] == {"groups": []}


def test_a_renamed_group_keeps_its_urn_and_only_its_name_changes(hub: Services) -> None:
    """A group keeps the URN of its creation (ADR 0037): a rename rewrites its info, not its members."""
    alice = add_user(hub, "alice")
    group = add_group(hub, "Engineering", alice)
    drain(pusher(hub, RecordingSink()))
    hub.groups.update(SYSTEM, group.id, lambda g: GroupEdit({**g.doc, "displayName": "Platform"}))
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert entities(sink.changes) == [(ENG, "upsert")]
    assert aspects(sink.changes, ENG)["corpGroupInfo"]["displayName"] == "Platform"


def test_a_group_made_with_a_renamed_group_s_first_name_is_refused(hub: Services) -> None:
    """The URN of a renamed group stays its own: a new group that would make it is a 409 naming the URN."""
    group = add_group(hub, "Engineering")
    hub.groups.update(SYSTEM, group.id, lambda g: GroupEdit({**g.doc, "displayName": "Platform"}))
    with pytest.raises(Uniqueness, match="urn:li:corpGroup:Engineering still names a group renamed since"):
        add_group(hub, "Engineering")


def test_a_role_through_a_nested_group_is_not_pushed_as_the_user_s_own(hub: Services) -> None:
    """DataHub has no nested groups (ADR 0038): the user's pushed groups and roles are its direct ones only,
    while scimhub's grants include the outer group's role."""
    alice = add_user(hub, "alice")
    inner = add_group(hub, "Inner", alice)
    outer = add_group(hub, "Outer", inner)
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", outer.id)
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert aspects(sink.changes, ALICE)["groupMembership"] == {"groups": ["urn:li:corpGroup:Inner"]}
    assert aspects(sink.changes, ALICE)["roleMembership"] == {"roles": []}
    assert aspects(sink.changes, "urn:li:corpGroup:Outer")["roleMembership"] == {"roles": [Role.ADMIN.urn]}
    assert [g.role for g in hub.roles.of_users([alice.id])[alice.id].inherited] == [Role.ADMIN]


def test_a_deleted_user_is_hard_deleted(hub: Services) -> None:
    """A user gone from the store is deleted from DataHub by the URN its event names."""
    alice = add_user(hub, "alice")
    hub.users.delete(SYSTEM, alice.id)
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert sink.changes == [Removal("corpuser", ALICE)]


def test_group_roles_stay_on_the_group(hub: Services) -> None:
    """A group's role goes on the group's roleMembership; a member's roleMembership has direct roles only."""
    alice = add_user(hub, "alice")
    group = add_group(hub, "Engineering", alice)
    hub.roles.assign(SYSTEM, Role.READER, "group", group.id)
    hub.roles.assign(SYSTEM, Role.ADMIN, "user", alice.id)
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert aspects(sink.changes, ENG)["roleMembership"] == {"roles": ["urn:li:dataHubRole:Reader"]}
    assert aspects(sink.changes, ALICE)["roleMembership"] == {"roles": ["urn:li:dataHubRole:Admin"]}


def test_the_builtin_administrator_is_never_pushed(hub: Services) -> None:
    """``admin`` is scimhub's own account, not an identity the provider provisioned."""
    hub.accounts.ensure_admin("a long enough password")
    sink = RecordingSink()
    p = pusher(hub, sink)
    drain(p)
    assert sink.changes == [] and p.status().lag == 0


def test_only_one_process_pushes_until_its_lease_expires(hub: Services) -> None:
    """A second pusher stands by; once the first stops renewing, it takes over, and the first stops.

    The first was paused past its lease (a stopped process, a long GC): its own clock did not move,
    so it still believes it leads when it wakes, and must learn otherwise from the database.
    """
    clock, paused = Clock(), Clock()
    first, second = pusher(hub, RecordingSink(), paused, "one"), pusher(hub, RecordingSink(), clock, "two")
    assert first.lead() and not second.lead()
    with pytest.raises(PushBusy, match="one"):
        second.take_lead()
    clock.now += 31_000_000  # for everyone else, the first's 30 s lease ran out
    assert second.lead()
    add_user(hub, "alice")
    with pytest.raises(LostLease):
        first.step()
    assert second.status().leader == "two"


def test_pruned_events_make_the_push_reconcile_everything(hub: Services) -> None:
    """When events after the checkpoint were pruned, the pusher pushes every user and group instead."""
    alice = add_user(hub, "alice")
    add_group(hub, "Engineering", alice)
    with hub.store.transaction() as tx:
        tx.events.prune(now_micros() + 1, 10_000)
    sink = RecordingSink()
    p = pusher(hub, sink)
    drain(p)
    assert entities(sink.changes) == [(ENG, "upsert"), (ALICE, "upsert")]
    assert p.status().lag == 0


def test_a_full_push_deletes_what_scimhub_no_longer_has(hub: Services) -> None:
    """``reconcile`` writes every user and group, then deletes each pushed URN that names nothing."""
    add_user(hub, "alice")
    with hub.store.transaction() as tx:
        tx.push.lease("datahub", "one", now_micros(), now_micros() + 10**9)
        tx.push.record([PushedEntity("urn:li:corpuser:ghost", "corpuser", "gone-id")], [], now_micros())
    sink = RecordingSink()
    p = pusher(hub, sink)
    p.take_lead()
    assert p.reconcile() == 2
    assert entities(sink.changes) == [(ALICE, "upsert"), ("urn:li:corpuser:ghost", "delete")]
    assert p.status().lag == 0


def test_a_membership_change_pushes_the_member(hub: Services) -> None:
    """A member added to a group gets its whole groupMembership again; the group is not touched."""
    alice, bob = add_user(hub, "alice"), add_user(hub, "bob")
    group = add_group(hub, "Engineering", alice)
    drain(pusher(hub, RecordingSink()))
    hub.groups.update(SYSTEM, group.id, lambda g: GroupEdit(g.doc, _add(bob.id)))
    sink = RecordingSink()
    drain(pusher(hub, sink))
    assert entities(sink.changes) == [("urn:li:corpuser:bob", "upsert")]
    assert aspects(sink.changes, "urn:li:corpuser:bob")["groupMembership"] == {"groups": [ENG]}


def _add(member_id: str) -> MemberChange:
    return MemberChange(add=(Member(member_id),))
