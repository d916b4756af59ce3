"""Hearing commits on PostgreSQL: LISTEN per process, surviving a lost connection; the CLI's waiter."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text

from scimhub.feed.longpoll import Notifier
from scimhub.store.sql import migrate, notify
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.events import CHANNEL
from scimhub.store.sql.notify import LISTENER_NAME, CommitWaiter, conninfo, listen_for_commits
from scimhub.store.sql.store import SqlStore
from tests.store.contract_events import append, make_event


@pytest.fixture
def postgres_store(fresh_postgres: str) -> Iterator[SqlStore]:
    engine = make_engine(fresh_postgres)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    yield store
    store.close()  # its held connections go back before the engine goes
    engine.dispose()


def head(store: SqlStore) -> int:
    with store.read() as tx:
        return tx.events.state().head


def test_a_listener_hears_commits_and_recovers_a_lost_connection(postgres_store: SqlStore) -> None:
    """Each commit is heard with its seq; after the connection is killed the listener reconnects and
    reports the head, so commits made while it was away are not missed."""

    async def scenario() -> list[int]:
        notifier = _Recording(asyncio.get_running_loop())
        listening = asyncio.create_task(
            listen_for_commits(postgres_store.engine, notifier, lambda: head(postgres_store))
        )
        polling = asyncio.create_task(notifier.wait_beyond(10, timeout=60))  # someone waits throughout
        await _until(lambda: notifier.heard == [0])  # connected: it reported the head
        await asyncio.to_thread(append, postgres_store, make_event())
        await _until(lambda: notifier.heard[-1] == 1)
        await asyncio.to_thread(_kill_listeners, postgres_store)
        await asyncio.to_thread(append, postgres_store, make_event())  # made while no one listens, maybe
        await _until(lambda: notifier.heard[-1] == 2)
        listening.cancel()
        polling.cancel()
        return notifier.heard

    heard = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert heard[:2] == [0, 1] and heard[-1] == 2


def test_a_process_listens_only_while_a_poll_waits(
    postgres_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No poll waiting, no listening connection: a commit wakes nothing (ADR 0070). A poll that
    waits opens one, and hears of the commits made before it listened through the head it reads
    first; a minute of keep-alives (here 0.2 s) after the last wait it closes again."""
    monkeypatch.setattr(notify, "KEEPALIVE_SECONDS", 0.2)

    async def scenario() -> tuple[list[int], bool]:
        notifier = _Recording(asyncio.get_running_loop())
        listening = asyncio.create_task(
            listen_for_commits(postgres_store.engine, notifier, lambda: head(postgres_store))
        )
        await asyncio.sleep(0.3)
        await asyncio.to_thread(append, postgres_store, make_event())  # no one listens
        assert notifier.heard == [] and not await asyncio.to_thread(_listeners, postgres_store)
        woke = await notifier.wait_beyond(0, timeout=30)  # hears 1 from the head it reads on connecting
        assert await asyncio.to_thread(_listeners, postgres_store) == 1
        listener = await asyncio.to_thread(_listener_pids, postgres_store)
        polling = asyncio.create_task(notifier.wait_beyond(1, timeout=30))
        await asyncio.sleep(0.5)  # more than a keep-alive, while a poll waits: still listening
        assert await asyncio.to_thread(_listener_pids, postgres_store) == listener  # the same connection
        await asyncio.to_thread(append, postgres_store, make_event())
        assert await polling
        await _until_async(lambda: asyncio.to_thread(_listeners, postgres_store), 0)
        listening.cancel()
        return notifier.heard, woke

    heard, woke = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert woke and heard[0] == 1 and heard[-1] == 2


class _Recording(Notifier):
    """A notifier that also records every ``seq`` it was told of."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.heard: list[int] = []

    def advance(self, seq: int) -> None:
        self.heard.append(seq)
        super().advance(seq)


def test_the_cli_waiter_returns_at_a_commit(postgres_store: SqlStore) -> None:
    """``CommitWaiter.wait`` returns when another connection commits events, long before its timeout."""
    commit = threading.Timer(0.2, append, args=(postgres_store, make_event()))
    with CommitWaiter(postgres_store.engine) as waiter:
        commit.start()
        started = time.monotonic()
        waiter.wait(30)
    waited = time.monotonic() - started
    # The NOTIFY arrives at the commit, before the committing thread has returned its
    # connection: let it, or the fixture disposes of the engine under it.
    commit.join()
    assert waited < 29


def test_a_transaction_too_large_for_one_insert_notifies_once_with_its_highest_seq(
    postgres_store: SqlStore,
) -> None:
    """9,000 events, inserted a chunk at a time under the lock, send one NOTIFY: the new head."""
    with psycopg.connect(conninfo(postgres_store.engine), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        append(postgres_store, *(make_event(f"urn:li:corpuser:{i}") for i in range(9_000)))
        heard = [notification.payload for notification in listener.notifies(timeout=2)]
    assert heard == [str(head(postgres_store))] and head(postgres_store) == 9_000


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def _until_async(read: Callable[[], Awaitable[int]], wanted: int) -> None:
    while await read() != wanted:
        await asyncio.sleep(0.05)


def _listeners(store: SqlStore) -> int:
    return len(_listener_pids(store))


def _listener_pids(store: SqlStore) -> set[int]:
    with store.engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = :name"
            ),
            {"name": LISTENER_NAME},
        )
        return set(found.scalars())


def _kill_listeners(store: SqlStore) -> None:
    with store.engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = current_database() AND application_name = '{LISTENER_NAME}'"
            )
        ).all()
        connection.commit()
    assert killed, "no listening connection found"
