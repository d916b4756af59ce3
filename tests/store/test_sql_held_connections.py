"""Statements on connections each thread keeps (ADR 0054, 0056, 0067), replaced once an error dropped one."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.errors import ServiceUnavailable
from scimhub.store.sql.engine import connections_needed, make_engine
from scimhub.store.sql.store import SqlStore
from tests.databases import migrated_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as engine:
        yield engine


def _checkouts(engine: Engine) -> list[int]:
    """Count the pool's checkouts of ``engine`` from now on."""
    counted = [0]
    event.listen(engine, "checkout", lambda *_: counted.__setitem__(0, counted[0] + 1))
    return counted


def test_a_thread_keeps_the_connections_it_reads_and_writes_on(engine: Engine) -> None:
    store = SqlStore(engine)
    users = Users(store, iter(range(1, 100)).__next__)
    checkouts = _checkouts(engine)
    for n in range(5):
        with store.read() as tx:
            tx.users.get_by_name("nobody")
        store.credential("no such hash")
        users.create(SYSTEM, UserEdit({"userName": f"user{n}"}))
    # PostgreSQL: one for all of them (ADR 0067). SQLite: reads, lone statements and the one writer.
    assert checkouts[0] == (1 if engine.dialect.name == "postgresql" else 3)
    store.close()


def test_on_postgresql_a_read_sees_one_snapshot_and_writes_nothing(engine: Engine) -> None:
    """A read shares its connection with writes (ADR 0067): it still begins repeatable read, read only."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's reads are snapshots by its own transactions")
    store = SqlStore(engine)
    Users(store, iter(range(1, 100)).__next__).create(SYSTEM, UserEdit({"userName": "ann"}))
    with store.read() as tx:
        isolation = tx.connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        read_only = tx.connection.exec_driver_sql("SHOW transaction_read_only").scalar()
    assert (isolation, read_only) == ("repeatable read", "on")
    with store.transaction() as tx:  # the same connection, begun as a write
        isolation = tx.connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        read_only = tx.connection.exec_driver_sql("SHOW transaction_read_only").scalar()
    assert (isolation, read_only) == ("read committed", "off")
    store.close()


def test_each_thread_holds_its_own_and_sees_the_others_writes(database_url: str) -> None:
    """A write on one thread is seen by the next read of another, whose connection was kept meanwhile."""
    with migrated_engine(database_url) as engine:
        store = SqlStore(engine)
        users, seen = Users(store, iter(range(1, 100)).__next__), []

        def read(name: str) -> None:
            with store.read() as tx:
                seen.append(tx.users.get_by_name(name) is not None)

        reader = threading.Thread(target=read, args=("ann",))
        reader.start()
        reader.join()
        read("ann")
        users.create(SYSTEM, UserEdit({"userName": "ann"}))
        for _ in range(2):
            other = threading.Thread(target=read, args=("ann",))
            other.start()
            other.join()
        read("ann")
        assert seen == [False, False, True, True, True]
        store.close()


def test_a_read_inside_an_open_read_of_the_same_thread_gets_its_own_connection(engine: Engine) -> None:
    """A stream left open (ADR 0019) holds the thread's connection in a transaction: others still read."""
    store = SqlStore(engine)
    Users(store, iter(range(1, 100)).__next__).create(SYSTEM, UserEdit({"userName": "bob"}))
    with store.read() as outer:
        with store.read() as inner:
            assert inner.users.get_by_name("bob") is not None
        assert store.credential("no such hash") is None
        assert outer.users.get_by_name("bob") is not None
    with store.read() as again:  # the thread's own, no longer inside a transaction
        assert again.users.get_by_name("bob") is not None
    store.close()


def test_close_gives_every_held_connection_back(engine: Engine) -> None:
    store = SqlStore(engine)
    returned = [0]
    event.listen(engine, "checkin", lambda *_: returned.__setitem__(0, returned[0] + 1))
    read, closed = threading.Barrier(4), threading.Event()

    def hold() -> None:  # alive until the store is closed: nothing it held was given back before
        store.credential("x")
        read.wait()
        closed.wait()

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    read.wait()
    before = returned[0]
    store.close()
    closed.set()
    for thread in threads:
        thread.join()
    assert returned[0] - before == 3


def test_what_an_ended_thread_held_goes_back_when_another_thread_first_asks(engine: Engine) -> None:
    """A worker of a shrinking thread pool must not keep a connection out of the pool for ever."""
    store = SqlStore(engine)
    returned = [0]
    event.listen(engine, "checkin", lambda *_: returned.__setitem__(0, returned[0] + 1))
    for _ in range(3):
        worker = threading.Thread(target=lambda: store.credential("x"))
        worker.start()
        worker.join()
    # Each new thread gave back what the one before it held; the last one's is still held.
    assert returned[0] == 2
    store.close()


def test_a_held_connection_the_server_dropped_is_replaced(engine: Engine, database_url: str) -> None:
    """PostgreSQL restarted or its connection cut: that read gets a 503, the thread's next one reconnects."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection is a file, not a server's")
    served = make_engine(database_url)  # the server's engine: a lost connection is a 503 (ADR 0029)
    store = SqlStore(served)
    with store.read() as tx:
        pid = tx.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with engine.connect() as admin:
        assert admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
    with pytest.raises(ServiceUnavailable), store.read() as tx:
        tx.users.get_by_name("nobody")
    with store.read() as tx:
        assert tx.users.get_by_name("nobody") is None
        assert tx.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    store.close()
    assert store.in_use() == 0
    served.dispose()


def test_once_a_dropped_connection_is_met_every_held_one_is_replaced(
    engine: Engine, database_url: str
) -> None:
    """A restarted server dropped them all: after the one request that met a dead connection, none fails.

    Each held connection would otherwise fail once of its own (a 503 each, after the outage had
    ended), as the pool's connections do not: the pool replaces all of them at the first.
    """
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection is a file, not a server's")
    served = make_engine(database_url)
    store = SqlStore(served)
    store.credential("x")
    held, killed, answers = threading.Event(), threading.Event(), []

    def read_before_and_after() -> None:  # another thread, alive throughout: its held connection
        store.credential("x")
        held.set()
        killed.wait()
        with store.read() as tx:  # dropped as well: replaced before use
            answers.append(tx.users.get_by_name("nobody"))

    other = threading.Thread(target=read_before_and_after)
    other.start()
    try:
        held.wait()
        with engine.connect() as admin:
            terminated = admin.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar()
        assert terminated >= 2
        with pytest.raises(ServiceUnavailable):
            store.credential("x")
    finally:  # a failure above must not leave the other thread waiting for ever
        killed.set()
        other.join()
    assert answers == [None]
    assert store.credential("x") is None
    store.close()
    served.dispose()


@pytest.mark.parametrize("threads", [4, 20, 32])
def test_a_postgresql_pool_holds_what_the_core_threads_may_need_at_once(threads: int) -> None:
    """Each core thread keeps a connection and takes a second for a fresh credential check (ADR 0086):
    with more threads than half the pool, the checks once waited out the pool's timeout, 503s
    (found by an adversarial run). 30 at the least, as before."""
    engine = make_engine("postgresql+psycopg://scimhub@127.0.0.1/never-connected", threads=threads)
    pool = engine.pool
    assert pool.size() + pool._max_overflow == max(30, connections_needed(threads))  # type: ignore[attr-defined]
