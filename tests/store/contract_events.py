"""``EventLogContract``: the event rules of ``scimhub/store/contract.py`` as a pytest suite.

Like ``StoreContract`` (``tests/store/contract_store.py``), a store gets the checks by
subclassing and providing a ``store`` fixture whose database is empty.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.store.contract import Store
from scimhub.store.records import EventQuery
from tests.store.contract_store import Boom

DAY = 86_400 * 1_000_000


def make_event(urn: str = "urn:li:corpuser:a", time: int = 1_000, **changes: Any) -> ChangeEvent:
    """Return a change event (not stored) for ``urn`` at ``time``."""
    event = ChangeEvent("corpuser", urn, Category.LIFECYCLE, Operation.CREATE, "urn:li:corpuser:admin", time)
    return replace(event, **changes)


def append(store: Store, *events: ChangeEvent) -> None:
    """Commit ``events`` in one transaction."""
    with store.transaction() as tx:
        tx.events.append(events)


class EventLogContract:
    """The rules every event log keeps; subclasses provide the ``store`` fixture."""

    def test_events_read_back_in_commit_order(self, store: Store) -> None:
        """Events of later transactions have larger seqs; each reads back equal to what was appended."""
        first = make_event(modifier="urn:li:corpGroup:g", parameters={"groupUrn": "urn:li:corpGroup:g"})
        second, third = make_event("urn:li:corpuser:b"), make_event("urn:li:corpuser:c")
        append(store, first, second)
        append(store, third)
        with store.read() as tx:
            recorded = tx.events.after(0, 10)
            assert tx.events.state().head == recorded[-1].seq
        assert [r.event for r in recorded] == [first, second, third]
        seqs = [r.seq for r in recorded]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3

    def test_a_transaction_of_many_events_is_stored_whole_in_order(self, store: Store) -> None:
        """9,000 events of one transaction (more than one SQL statement can carry) read back in order.

        A PATCH adding 9,000 members appends 9,000 events; 8 bind parameters each
        would exceed PostgreSQL's 65,535 in a single INSERT.
        """
        many = [make_event(f"urn:li:corpuser:{i}") for i in range(9_000)]
        append(store, *many)
        with store.read() as tx:
            recorded = tx.events.after(0, len(many) + 1)
            head = tx.events.state().head
        assert [r.event for r in recorded] == many
        seqs = [r.seq for r in recorded]
        assert seqs == sorted(set(seqs)) and head == seqs[-1]

    def test_events_of_one_transaction_keep_every_value_exactly(self, store: Store) -> None:
        """Several events at once (a PATCH's members) read back as appended: text, numbers, nulls, nesting."""
        hostile = 'quote " backslash \\ null "null" emoji \U0001f600 \u00e9'
        many = [
            make_event(modifier=None, parameters={}),
            make_event(modifier=hostile, parameters={"fieldPath": hostile, "n": 2**53, "x": 0.1, "ok": True}),
            make_event(parameters={"nested": {"list": [1, "two", None], "empty": {}}, "none": None}),
            make_event(hostile, time=2**62, parameters={"": ""}),
        ]
        append(store, *many)
        append(store, many[1])  # alone: the one-event path stores it the same
        with store.read() as tx:
            recorded = [r.event for r in tx.events.after(0, 10)]
        assert recorded == [*many, many[1]]

    def test_a_rolled_back_transaction_publishes_nothing(self, store: Store) -> None:
        """Events appended in a transaction that raises are not stored, and the head does not move."""
        append(store, make_event())
        with store.read() as tx:
            before = tx.events.state().head
        with pytest.raises(Boom), store.transaction() as tx:
            tx.events.append([make_event("urn:li:corpuser:lost")])
            raise Boom
        with store.read() as tx:
            assert tx.events.state().head == before
            assert tx.events.after(before, 10) == []

    def test_a_new_feed_starts_empty(self, store: Store) -> None:
        """An empty feed has a stream id, nothing pruned, head 0."""
        with store.read() as tx:
            state = tx.events.state()
        assert state.stream and state.pruned_through == 0 and state.head == 0

    def test_pages_follow_seq(self, store: Store) -> None:
        """after(seq, limit) returns the next ``limit`` events after ``seq``, in order."""
        append(store, *(make_event(f"urn:li:corpuser:{i}") for i in range(5)))
        with store.read() as tx:
            everything = tx.events.after(0, 100)
            page = tx.events.after(everything[1].seq, 2)
        assert page == everything[2:4]

    def test_pruning_deletes_the_oldest_and_moves_the_mark(self, store: Store) -> None:
        """prune() deletes events made before the cutoff, a batch at a time, and marks how far it went."""
        append(store, *(make_event(f"urn:li:corpuser:old{i}", time=i) for i in range(3)))
        append(store, make_event("urn:li:corpuser:new", time=10 * DAY))
        with store.transaction() as tx:
            assert tx.events.prune(before=DAY, batch=2) == 2
        with store.transaction() as tx:
            assert tx.events.prune(before=DAY, batch=2) == 1
            assert tx.events.prune(before=DAY, batch=2) == 0
        with store.read() as tx:
            state = tx.events.state()
            left = tx.events.after(0, 10)
        assert [r.event.entity_urn for r in left] == ["urn:li:corpuser:new"]
        assert state.pruned_through == left[0].seq - 1

    def test_a_seq_is_never_handed_out_twice(self, store: Store) -> None:
        """After pruning every event, new events still get larger seqs (no reuse of deleted numbers)."""
        append(store, make_event(time=1), make_event(time=2))
        with store.transaction() as tx:
            tx.events.prune(before=DAY, batch=100)
        append(store, make_event(time=5 * DAY))
        with store.read() as tx:
            state = tx.events.state()
            (recorded,) = tx.events.after(0, 10)
        assert state.pruned_through == 2 and recorded.seq > 2 and state.head == recorded.seq

    def test_the_head_survives_pruning_everything(self, store: Store) -> None:
        """With every event pruned the head is the pruning mark, so no issued offset is ahead of it."""
        append(store, make_event(time=1))
        with store.transaction() as tx:
            tx.events.prune(before=DAY, batch=100)
        with store.read() as tx:
            state = tx.events.state()
        assert state.head == state.pruned_through == 1

    def test_a_reader_sees_a_prune_whole_or_not_at_all(self, store: Store) -> None:
        """A read that began before a prune still sees every event and the old mark (one snapshot)."""
        append(store, *(make_event(time=i) for i in range(1, 4)))
        with store.read() as reader:
            before = reader.events.state()
            with store.transaction() as pruner:
                pruner.events.prune(before=DAY, batch=100)
            assert reader.events.state() == before
            assert len(reader.events.after(0, 10)) == 3
        with store.read() as tx:
            assert tx.events.state().pruned_through == before.head

    def test_position_at_a_time(self, store: Store) -> None:
        """position_at(t) is the seq after which the events made at or after t follow."""
        append(store, make_event(time=100), make_event(time=200), make_event(time=300))
        with store.read() as tx:
            seqs = [r.seq for r in tx.events.after(0, 10)]
            assert tx.events.position_at(200) == seqs[1] - 1
            assert tx.events.position_at(50) == seqs[0] - 1
            assert tx.events.position_at(400) == tx.events.state().head

    def test_search_narrows_by_every_field(self, store: Store) -> None:
        """Entity, actor, category and time narrow a search; it is newest first unless asked otherwise."""
        alice, bob = "urn:li:corpuser:alice", "urn:li:corpuser:bob"
        joined = make_event(alice, 20, category=Category.GROUP_MEMBERSHIP, operation=Operation.ADD)
        append(store, make_event(alice, 10), make_event(bob, 15, actor=alice), joined)

        def urns(**fields: Any) -> list[tuple[str, int]]:
            with store.read() as tx:
                found = tx.events.search(EventQuery(**fields))
            return [(r.event.entity_urn, r.event.time) for r in found]

        assert urns() == [(alice, 20), (bob, 15), (alice, 10)]
        assert urns(entity_urn=alice) == [(alice, 20), (alice, 10)]
        assert urns(actor=alice) == [(bob, 15)]
        assert urns(category="GROUP_MEMBERSHIP") == [(alice, 20)]
        assert urns(since=15, until=20) == [(bob, 15)]
        assert urns(oldest_first=True, limit=2) == [(alice, 10), (bob, 15)]
        with store.read() as tx:
            middle = tx.events.search(EventQuery(actor=alice))[0].seq
        assert urns(before=middle) == [(alice, 10)]
        assert urns(after=middle, oldest_first=True) == [(alice, 20)]
