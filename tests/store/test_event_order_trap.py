"""The outbox trap, set up on purpose: a write that took its place first and commits last (ADR 0011).

PostgreSQL only: SQLite's writers are serialized whole, so there a number is
always taken in commit order. Each test sets up, with two real transactions on
two connections, an interleaving that concurrent writers meet by chance, and
that tests/integration/test_feed_concurrency.py meets only by luck. Any change
to how events are numbered (ADR 0050 tried one) must keep these green.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.events import _APPEND_MANY, SqlEventLog, _values
from scimhub.store.sql.store import SqlStore
from tests.databases import postgres_database
from tests.store.contract_events import make_event

WAIT = 10.0
"""Seconds a step may take before the test calls it stuck (a step here takes milliseconds)."""


@pytest.fixture
def store(postgres_admin_url: str) -> Iterator[SqlStore]:
    with postgres_database(postgres_admin_url, migrated=True) as url:
        engine = make_engine(url)
        store = SqlStore(engine)
        yield store
        store.close()  # its held connections go back before the engine goes
        engine.dispose()


def _naive_flush(self: SqlEventLog) -> None:
    """Number events at insert from the sequence, with no lock: the outbox trap of ADR 0011."""
    if self._pending:
        rows = {"rows": [_values(event) for event in self._pending]}
        self.written_through = max(self._connection.execute(_APPEND_MANY["postgresql"], rows).scalars())
        self._pending = []


def _urns(store: SqlStore, after: int) -> list[tuple[int, str]]:
    with store.read() as tx:
        return [(r.seq, r.event.entity_urn) for r in tx.events.after(after, 100)]


@contextmanager
def _second_while_first_waits(
    first: Callable[[], None],
    second: Callable[[], None],
    ready: threading.Event,
    go: threading.Event,
    pause: float,
) -> Iterator[bool]:
    """Start ``first``, and ``second`` once ``first`` is ``ready``; yield whether ``second`` still runs
    ``pause`` seconds later. On leaving, let ``first`` go on (``go``) and wait for both to end."""
    one = threading.Thread(target=first)
    one.start()
    assert ready.wait(WAIT)
    two = threading.Thread(target=second)
    two.start()
    two.join(pause)
    try:
        yield two.is_alive()
    finally:
        go.set()
        one.join(WAIT)
        two.join(WAIT)


def _follow_a_write_that_commits_late(store: SqlStore) -> tuple[list[str], bool]:
    """T1 writes its events, then waits before COMMIT; T2 writes and commits; a follower reads; T1 commits.

    Return the URNs the follower read, in order, and whether T2 had to wait for T1's commit (with
    ADR 0011's lock it does: the follower then reads nothing until T1 committed, and misses nothing).
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

    with _second_while_first_waits(first, second, flushed, go, 1.0) as waited:
        seen = _urns(store, 0)  # the follower, while T1 has not committed yet
        cursor = seen[-1][0] if seen else 0
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
    """The test above can fail: numbered at insert without a lock, the follower steps over the late event."""
    monkeypatch.setattr(SqlEventLog, "flush", _naive_flush)

    urns, _ = _follow_a_write_that_commits_late(store)

    assert urns == ["urn:li:corpuser:second"]


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

    with _second_while_first_waits(first, second, holding, go, 0.5) as waiting:
        assert waiting  # for the first write's row

    assert [urn for _, urn in _urns(store, 0)] == ["urn:li:corpuser:first", "urn:li:corpuser:second"]
