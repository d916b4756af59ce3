"""The event log on SQLite and PostgreSQL, and what only the SQL store does: write at commit, then tell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from tests.store.contract_events import EventLogContract, append, make_event
from tests.store.contract_store import Boom


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    yield store
    store.close()  # its held connections go back before the engine goes
    engine.dispose()


class TestSqlEventLog(EventLogContract):
    """The event log contract on SQLite and on PostgreSQL, schema built by the migrations."""


def test_commit_listeners_hear_only_committed_events(store: SqlStore) -> None:
    """Listeners are told the highest seq after a commit that wrote events, never for a rollback or none."""
    heard: list[int] = []
    store.on_commit(heard.append)
    append(store, make_event(), make_event())
    with pytest.raises(Boom), store.transaction() as tx:
        tx.events.append([make_event()])
        raise Boom
    with store.transaction():
        pass
    with store.read() as tx:
        assert heard == [tx.events.state().head]


def test_a_failing_listener_does_not_fail_the_committed_write(store: SqlStore) -> None:
    """The change committed: a listener's error is logged, not raised to the writer."""

    def broken(_: int) -> None:
        raise RuntimeError("listener down")

    store.on_commit(broken)
    append(store, make_event())
    with store.read() as tx:
        assert tx.events.state().head == 1


def test_events_are_written_at_commit_not_at_append(store: SqlStore) -> None:
    """Appended events reach the table only when the transaction ends (the lock is held for that only)."""
    with store.transaction() as tx:
        tx.events.append([make_event()])
        assert tx.connection.execute(text("SELECT count(*) FROM events")).scalar() == 0
    with store.read() as tx:
        assert len(tx.events.after(0, 10)) == 1
