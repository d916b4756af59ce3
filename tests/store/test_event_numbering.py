"""Events numbered after their commit (ADR 0050): the outbox trap stays closed without a lock through COMMIT.

PostgreSQL only: SQLite's writers are serialized whole, so there a number is
always taken in commit order. Each test sets up, with two real transactions on
two connections, an interleaving that concurrent writers meet by chance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from scimhub.store.sql import store as store_module
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.events import _INSERT, SqlEventLog
from scimhub.store.sql.store import SqlStore
from tests.databases import postgres_database
from tests.store.contract_events import make_event

_QUEUED = text(
    "INSERT INTO event_queue (id, writer, entity_type, entity_urn, category, operation, actor, time)"
    " VALUES (:id, :id, 'corpuser', :urn, 'LIFECYCLE', 'CREATE', 'urn:li:corpuser:admin', 0)"
)
"""A queued event as a write leaves it, ``writer`` one of its own (each row a write of its own)."""
WAIT = 10.0
"""Seconds a step may take before the test calls it stuck (a step here takes milliseconds)."""


@pytest.fixture
def store(postgres_admin_url: str) -> Iterator[SqlStore]:
    with postgres_database(postgres_admin_url, migrated=True) as url:
        engine = make_engine(url)
        yield SqlStore(engine)
        engine.dispose()


def _naive_flush(self: SqlEventLog) -> None:
    """Number events at insert from the sequence, with no lock: the outbox trap of ADR 0011."""
    if self._pending:
        self.written_through = max(self._connection.execute(_INSERT, self._pending).scalars())
        self._pending = []


def _urns(store: SqlStore, after: int) -> list[tuple[int, str]]:
    with store.read() as tx:
        return [(r.seq, r.event.entity_urn) for r in tx.events.after(after, 100)]


def _follow_a_write_that_commits_late(store: SqlStore) -> tuple[list[str], bool]:
    """T1 writes its events, then waits before COMMIT; T2 writes and commits; a follower reads; T1 commits.

    Return the URNs the follower read, in order, and whether T2 had to wait for T1's commit.
    """
    flushed, go = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with store.transaction() as tx:
                tx.events.append([make_event("urn:li:corpuser:first")])
                tx.events.flush()  # what happens right before COMMIT: the events are written
                flushed.set()
                assert go.wait(WAIT)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
            flushed.set()

    def second() -> None:
        with store.transaction() as tx:
            tx.events.append([make_event("urn:li:corpuser:second")])

    t1 = threading.Thread(target=first)
    t1.start()
    assert flushed.wait(WAIT)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(2.0)
    waited = t2.is_alive()
    seen = _urns(store, 0)  # the follower, while T1 has not committed yet
    cursor = seen[-1][0] if seen else 0
    go.set()
    t1.join(WAIT)
    t2.join(WAIT)
    assert not failures, failures
    seen += _urns(store, cursor)  # the follower again, after its cursor
    return [urn for _, urn in seen], waited


def test_a_follower_misses_no_event_of_a_write_that_took_its_place_first_and_committed_last(
    store: SqlStore,
) -> None:
    urns, _ = _follow_a_write_that_commits_late(store)

    assert sorted(urns) == ["urn:li:corpuser:first", "urn:li:corpuser:second"]


def test_the_same_interleaving_loses_an_event_when_numbers_are_taken_at_insert_without_a_lock(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: numbered at insert, the follower steps over the late commit's event."""
    monkeypatch.setattr(SqlEventLog, "flush", _naive_flush)

    urns, _ = _follow_a_write_that_commits_late(store)

    assert urns == ["urn:li:corpuser:second"]


def test_a_write_does_not_wait_for_another_writes_commit(store: SqlStore) -> None:
    """The point of ADR 0050: no lock is held from a write's events through its COMMIT (ADR 0011 held one)."""
    _, waited = _follow_a_write_that_commits_late(store)

    assert not waited


def test_a_write_that_waited_for_anothers_row_is_numbered_after_it(store: SqlStore) -> None:
    """Two writes of one row: the one that waited for the other's commit gets the larger seq."""
    holding, go = threading.Event(), threading.Event()

    def first() -> None:
        with store.transaction() as tx:
            tx.connection.execute(text("SELECT 1 FROM event_feed WHERE id = 1 FOR UPDATE"))
            tx.events.append([make_event("urn:li:corpuser:first")])
            holding.set()
            assert go.wait(WAIT)

    def second() -> None:
        with store.transaction() as tx:
            tx.connection.execute(text("SELECT 1 FROM event_feed WHERE id = 1 FOR UPDATE"))
            tx.events.append([make_event("urn:li:corpuser:second")])

    t1 = threading.Thread(target=first)
    t1.start()
    assert holding.wait(WAIT)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(0.5)
    assert t2.is_alive()  # waiting for the first write's row
    go.set()
    t1.join(WAIT)
    t2.join(WAIT)

    assert [urn for _, urn in _urns(store, 0)] == ["urn:li:corpuser:first", "urn:li:corpuser:second"]


def test_a_write_is_in_the_feed_when_its_transaction_returns(store: SqlStore) -> None:
    heard: list[int] = []
    store.on_commit(heard.append)
    with store.transaction() as tx:
        tx.events.append([make_event("urn:li:corpuser:a"), make_event("urn:li:corpuser:b")])

    assert _urns(store, 0) == [(1, "urn:li:corpuser:a"), (2, "urn:li:corpuser:b")]
    assert heard == [2]


def test_events_of_a_write_killed_before_numbering_them_are_numbered_by_the_next_read(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committed with the change, they wait in the queue; the feed's next reader numbers them, in order."""
    with monkeypatch.context() as patched:
        patched.setattr(store_module, "number_queued", lambda connection: None)  # killed right after COMMIT
        with store.transaction() as tx:
            tx.events.append([make_event("urn:li:corpuser:a"), make_event("urn:li:corpuser:b")])
    assert _urns(store, 0) == []

    store.number_events()

    assert _urns(store, 0) == [(1, "urn:li:corpuser:a"), (2, "urn:li:corpuser:b")]


def test_a_pass_numbers_queued_events_in_insertion_order_whatever_their_place_in_the_table(
    store: SqlStore,
) -> None:
    """Rows stored in the other order than their ids (heap order is no order) are numbered by id."""
    rows: list[dict[str, Any]] = [{"id": 300 - i, "urn": f"urn:li:corpuser:{300 - i:03}"} for i in range(300)]
    with store.engine.begin() as connection:
        connection.execute(_QUEUED, rows)

    store.number_events()

    numbered = _urns(store, 0) + _urns(store, 100) + _urns(store, 200)
    assert [urn for _, urn in numbered] == [f"urn:li:corpuser:{i:03}" for i in range(1, 301)]
