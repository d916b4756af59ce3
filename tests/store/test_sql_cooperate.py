"""A request's work on the event loop (``SqlStore.cooperate``, ADR 0066).

On PostgreSQL it runs in a greenlet holding one of the loop's work slots, and every wait for the
server, a lock's included, is awaited: the loop runs other work meanwhile. Each slot keeps its own
connections, as a thread does. On SQLite the work runs at once, in the caller.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import uvloop
from sqlalchemy import Engine, event, select, text
from sqlalchemy.util.concurrency import await_, greenlet_spawn, in_greenlet

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.store.sql import migrate
from scimhub.store.sql.cooperative import CooperativeConnection
from scimhub.store.sql.engine import make_engine, unavailable
from scimhub.store.sql.notify import conninfo
from scimhub.store.sql.slots import WORK_IN_FLIGHT, Slots
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import users


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The server's engine (``make_engine``): on PostgreSQL, connections whose waits cooperate."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's work runs at once (test_on_sqlite_the_work_runs_at_once_in_the_caller)")


def _users(store: SqlStore) -> Users:
    return Users(store, lambda: 1_000_000)


def test_on_sqlite_the_work_runs_at_once_in_the_caller(store: SqlStore, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's work runs in a greenlet")

    async def main() -> bool:
        return await store.cooperate(in_greenlet)

    assert asyncio.run(main()) is False


def test_a_write_waiting_for_a_row_held_elsewhere_lets_the_loop_run_other_work(
    store: SqlStore, engine: Engine
) -> None:
    _postgresql(engine)
    directory = _users(store)
    ada = directory.create(SYSTEM, UserEdit({"userName": "ada"}))

    def retitle() -> str:
        return directory.update(SYSTEM, ada.id, lambda user: UserEdit({**user.doc, "title": "Dr"})).user.doc[
            "title"
        ]

    def lock_waits() -> int:
        with store.read(one_statement=True) as tx:
            query = (  # this database's only: the suite's other tests wait for locks of their own
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            return int(tx.connection.exec_driver_sql(query).scalar_one())

    async def main() -> None:
        with engine.connect() as other:  # another process's transaction, holding ada's row
            other.execute(select(users.c.id).where(users.c.id == ada.id).with_for_update())
            write = asyncio.ensure_future(store.cooperate(retitle))
            for _ in range(500):
                if await store.cooperate(lock_waits):
                    break
                await asyncio.sleep(0.01)
            assert await store.cooperate(lock_waits) == 1  # the write waits for the row ...
            read = await store.cooperate(lambda: directory.get(ada.id).user.doc.get("title"))
            assert read is None and not write.done()  # ... while the loop runs other work
            other.rollback()
            assert await asyncio.wait_for(write, 10) == "Dr"

    asyncio.run(main())
    assert directory.get(ada.id).user.doc["title"] == "Dr"
    assert store.in_use() == 0


def test_no_more_work_than_the_slots_runs_at_once_each_on_its_own_connection(
    store: SqlStore, engine: Engine
) -> None:
    _postgresql(engine)
    backends: set[int] = set()
    running = [0, 0]  # now, most

    def sleep_on_the_server() -> None:
        running[0] += 1
        running[1] = max(running)
        with store.read(one_statement=True) as tx:
            backend = tx.connection.exec_driver_sql(
                "SELECT pg_backend_pid() FROM pg_sleep(0.05)"
            ).scalar_one()
        backends.add(backend)
        running[0] -= 1

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(store.cooperate(sleep_on_the_server) for _ in range(3 * WORK_IN_FLIGHT)))
        return loop.time() - started

    elapsed = asyncio.run(main())
    assert running[1] == WORK_IN_FLIGHT  # as many as the slots, interleaved, and no more
    assert len(backends) == WORK_IN_FLIGHT  # one connection per slot, kept across its works
    assert elapsed < 3 * WORK_IN_FLIGHT * 0.05  # the sleeps overlapped
    assert store.in_use() == 0


def test_after_a_dropped_connection_each_slot_connects_once_again(store: SqlStore, engine: Engine) -> None:
    _postgresql(engine)
    directory = _users(store)

    connects: list[Any] = []

    async def main() -> None:
        await store.cooperate(directory.create, SYSTEM, UserEdit({"userName": "warm"}))
        with engine.connect() as dropped:  # what SQLAlchemy does with a connection it found dead
            dropped.invalidate()
        event.listen(engine, "connect", lambda *_: connects.append(None))
        for n in range(5):
            await store.cooperate(directory.create, SYSTEM, UserEdit({"userName": f"user{n}"}))

    asyncio.run(main())
    assert len(connects) == 1  # the slot's connection, taken anew after the drop, then kept
    with engine.connect() as connection:
        names = set(connection.execute(text("SELECT user_name FROM users")).scalars())
    assert names >= {f"user{n}" for n in range(5)}


def test_work_cancelled_while_it_waits_leaves_no_broken_connection_behind(
    store: SqlStore, engine: Engine
) -> None:
    """A request's task cancelled mid-exchange (the server stopping): the exchange goes on to its end,
    then the work unwinds with its transaction rolled back, and the slot's connection serves on."""
    _postgresql(engine)
    directory = _users(store)
    ada = directory.create(SYSTEM, UserEdit({"userName": "ada"}))

    def retitle(title: str) -> None:
        directory.update(SYSTEM, ada.id, lambda user: UserEdit({**user.doc, "title": title}))

    async def main() -> None:
        with engine.connect() as other:
            other.execute(select(users.c.id).where(users.c.id == ada.id).with_for_update())
            write = asyncio.ensure_future(store.cooperate(retitle, "Dr"))
            await asyncio.sleep(0.2)
            write.cancel()
            await asyncio.sleep(0.1)
            assert not write.done()  # its exchange goes on: the row is still held
            other.rollback()
            with pytest.raises(asyncio.CancelledError):
                await write
        assert not unavailable(engine)  # a cancelled request is no outage
        await store.cooperate(retitle, "Prof")

    asyncio.run(main())
    assert directory.get(ada.id).user.doc["title"] == "Prof"
    assert store.in_use() == 0


def test_one_of_several_processes_runs_the_work_at_once(engine: Engine) -> None:
    """Several processes overlap each other's waits: a store told not to interleave spawns no greenlet."""
    store = SqlStore(engine, interleave=False)
    try:
        assert asyncio.run(store.cooperate(in_greenlet)) is False
    finally:
        store.close()


async def _one_slot_held(names: list[str]) -> tuple[Slots, asyncio.Event, Any, asyncio.Future[None]]:
    """One slot, held by the work "first" until the event is set; every work records its name as it starts."""
    slots, release = Slots(asyncio.get_running_loop(), count=1), asyncio.Event()

    def work(name: str, hold: bool = False) -> None:
        names.append(name)
        if hold:
            await_(release.wait())

    first = asyncio.ensure_future(slots.run(work, "first", True))
    await asyncio.sleep(0)
    return slots, release, work, first


def test_a_slot_given_back_goes_to_the_work_that_waited_longest() -> None:
    """A newcomer asking for a slot just as one is given back does not take it from the work that
    waited: that work would queue again, last, and under a steady load wait half a second."""
    started: list[str] = []

    async def main() -> None:
        slots, release, work, first = await _one_slot_held(started)
        waiting = asyncio.ensure_future(slots.run(work, "waiting"))
        await asyncio.sleep(0)
        release.set()
        # Asks once "first" has given its slot back to "waiting", and before that one runs.
        newcomer = asyncio.ensure_future(slots.run(work, "newcomer"))
        await asyncio.gather(first, waiting, newcomer)

    asyncio.run(main())
    assert started == ["first", "waiting", "newcomer"]


def test_a_waiter_cancelled_once_handed_a_slot_passes_it_on() -> None:
    started: list[str] = []

    async def main() -> None:
        slots, release, work, first = await _one_slot_held(started)
        cancelled, gone, last = (
            asyncio.ensure_future(slots.run(work, n)) for n in ("cancelled", "gone", "last")
        )
        await asyncio.sleep(0)
        gone.cancel()  # while it waits
        release.set()
        # Once "first" has handed its slot to "cancelled", and before that one runs.
        asyncio.get_running_loop().call_soon(cancelled.cancel)
        await asyncio.gather(first, last)
        for task in (cancelled, gone):
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert started == ["first", "last"]


def test_no_wait_hangs_while_the_server_terminates_connections_now_and_then(engine: Engine) -> None:
    """Four works wait on uvloop, as the server's do, while every backend is terminated every 0.3 s.
    libpq closes a dead connection's socket itself: a reader left on it would have the loop watch
    whatever socket reuses the descriptor, and a wait there would never end (ADR 0071)."""
    _postgresql(engine)
    uri = conninfo(engine)
    database = engine.url.database
    served = [0]

    async def work_until(end: float) -> None:
        connection: CooperativeConnection | None = None
        while time.monotonic() < end:
            if connection is None:
                connection = await asyncio.to_thread(CooperativeConnection.connect, uri, autocommit=True)
            try:
                await greenlet_spawn(lambda: connection.execute("SELECT pg_sleep(0.002)").fetchall())  # noqa: B023
                served[0] += 1
            except psycopg.Error:
                connection.close()
                connection = None
            await asyncio.sleep(0.003)
        if connection is not None:
            connection.close()

    async def main() -> list[asyncio.Task[None]]:
        end = time.monotonic() + 4
        works = [asyncio.create_task(work_until(end)) for _ in range(4)]
        async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as killer:
            while time.monotonic() < end:
                await asyncio.sleep(0.3)
                await killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [database],
                )
        _, hung = await asyncio.wait(works, timeout=10)
        return list(hung)

    # On a thread of its own: a hung wait, cancelled, would still wait, and so would the loop's end.
    outcome: list[list[asyncio.Task[None]]] = []
    runner = threading.Thread(target=lambda: outcome.append(uvloop.run(main())), daemon=True)
    runner.start()
    runner.join(30)
    assert outcome == [[]], "a wait hung"
    assert served[0] > 100
