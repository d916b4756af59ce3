"""Which write waits for which on PostgreSQL's row locks (ADR 0020).

A write that is about to refer to a user or group (add it as a member, give it a
role) holds it with ``names(..., refer=True)``; a deletion holds it with
``get(..., for_delete=True)``; a PATCH with ``get(..., for_update=True)``. The
second transaction here gives up after ``lock_timeout``: whether it got through
or had to wait is its result, not a clock reading. SQLite runs one writer at a
time, so there is nothing to wait for there. No wait is without end: each
connection's ``lock_timeout`` bounds it, and a write that meets the bound is a 503
(``LockNotHad``, ADR 0069).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from scimhub.store.sql import engine as engines
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import LockNotHad, make_engine
from scimhub.store.sql.store import SqlStore, SqlTransaction
from tests.store.contract_store import make_group, make_user


@pytest.fixture
def store(fresh_postgres: str) -> Iterator[SqlStore]:
    engine = make_engine(fresh_postgres)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    yield store
    store.close()  # its held connections go back before the engine goes
    engine.dispose()


def waits(store: SqlStore, step: Callable[[SqlTransaction], object]) -> bool:
    """Tell whether ``step``, in a transaction of its own, waits for a lock another transaction holds."""
    try:
        with store.transaction() as tx:
            tx.connection.execute(text("SET LOCAL lock_timeout = '300ms'"))
            step(tx)
    except LockNotHad:
        return True
    return False


def stored_user(store: SqlStore) -> str:
    user = make_user()
    with store.transaction() as tx:
        tx.users.insert(user)
    return user.id


def test_a_referred_user_cannot_be_deleted_until_the_referrer_commits(store: SqlStore) -> None:
    """While a write holds a user to add it as a member, deleting the user waits; afterwards it proceeds."""
    id = stored_user(store)
    with store.transaction() as holder:
        assert list(holder.users.names([id], refer=True)) == [id]
        assert waits(store, lambda tx: tx.users.get(id, for_delete=True))
    assert not waits(store, lambda tx: tx.users.delete(id) if tx.users.get(id, for_delete=True) else None)


def test_a_user_being_deleted_cannot_be_referred_to(store: SqlStore) -> None:
    """While a deletion holds a user, a write that would add it as a member waits; then it finds no user."""
    id = stored_user(store)
    with store.transaction() as deleter:
        assert deleter.users.get(id, for_delete=True) is not None
        deleter.users.delete(id)
        assert waits(store, lambda tx: tx.users.names([id], refer=True))
        assert waits(store, lambda tx: tx.users.urns([id], refer=True))
    with store.transaction() as tx:
        assert tx.users.names([id], refer=True) == {} and tx.users.urns([id], refer=True) == {}


def test_a_group_being_deleted_cannot_be_nested(store: SqlStore) -> None:
    """While a deletion holds a group, a write that would add it as a member of another group waits."""
    group = make_group()
    with store.transaction() as tx:
        tx.groups.insert(group)
    with store.transaction() as deleter:
        assert deleter.groups.get(group.id, for_delete=True) is not None
        assert waits(store, lambda tx: tx.groups.names([group.id], refer=True))


def test_changing_a_user_and_referring_to_it_do_not_wait_for_each_other(store: SqlStore) -> None:
    """A PATCH of a user does not hold up adding that user to a group, nor the other way round."""
    id = stored_user(store)
    with store.transaction() as patcher:
        assert patcher.users.get(id, for_update=True) is not None
        assert not waits(store, lambda tx: tx.users.names([id], refer=True))
    with store.transaction() as referrer:
        referrer.users.names([id], refer=True)
        assert not waits(store, lambda tx: tx.users.get(id, for_update=True))


def test_two_writes_changing_one_user_wait_for_each_other(store: SqlStore) -> None:
    """Two PATCHes of one user run one after the other (no lost update)."""
    id = stored_user(store)
    with store.transaction() as patcher:
        patcher.users.get(id, for_update=True)
        assert waits(store, lambda tx: tx.users.get(id, for_update=True))


@pytest.fixture
def bounded(fresh_postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    """A store whose connections wait 300 ms for a lock rather than ``LOCK_WAIT_MS``'s 10 s."""
    monkeypatch.setattr(engines, "LOCK_WAIT_MS", 300)  # read as each engine is made
    engine = make_engine(fresh_postgres)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    yield store
    store.close()
    engine.dispose()


def test_a_write_waits_for_a_lock_held_elsewhere_no_longer_than_the_bound(bounded: SqlStore) -> None:
    """A lock held from outside for as long as it likes: the waiting write is refused (503, to retry),
    rolled back whole, and its thread is free again; once the lock goes, the same write commits."""
    store = bounded
    id = stored_user(store)
    outcome: list[BaseException | None] = []

    def rename() -> None:
        try:
            with store.transaction() as tx:
                user = tx.users.get(id, for_update=True)
                assert user is not None
                tx.users.update(user)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - what the test checks
            outcome.append(error)

    with store.engine.connect() as outside, outside.begin():
        outside.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": id})
        waiting = threading.Thread(target=rename)
        waiting.start()
        waiting.join(30)  # far beyond the bound: a wait without end would still be waiting
        assert not waiting.is_alive()
    [refused] = outcome
    assert isinstance(refused, LockNotHad) and refused.retry_after == 1
    rename()
    assert outcome[1:] == [None]


def test_a_migration_waits_for_another_past_the_bound(
    fresh_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations may wait longer than a request: for another process's migration, for their tables."""
    monkeypatch.setattr(engines, "LOCK_WAIT_MS", 300)
    engine = make_engine(fresh_postgres)
    try:
        with engine.connect() as other:
            other.execute(text("SELECT pg_advisory_lock(hashtext('scimhub-alembic'))"))
            releaser = threading.Timer(
                1.0, lambda: other.execute(text("SELECT pg_advisory_unlock(hashtext('scimhub-alembic'))"))
            )
            releaser.start()
            migrate.upgrade(engine)  # waits a second for the lock, past the 300 ms bound
            releaser.join()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "300ms"
    finally:
        engine.dispose()


def test_a_lock_wait_cancelled_from_outside_is_a_lock_not_had(store: SqlStore) -> None:
    """A cancel (57014) while a write waits is answered as a lock not had: a 503 to retry, never a 500.

    PostgreSQL reported a brief write's lock timeout as "canceling statement due to user request"
    under contention (``engine._LOCK_NOT_HAD_STATES``); an operator's ``pg_cancel_backend`` is the same.
    """
    id = stored_user(store)
    outcome: list[BaseException | None] = []

    def wait_for_the_row() -> None:
        try:
            with store.transaction() as tx:
                tx.connection.execute(text("SET LOCAL lock_timeout = '10s'"))
                tx.users.get(id, for_update=True)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - what it raised is the result
            outcome.append(error)

    with store.transaction() as holder:
        assert holder.users.get(id, for_update=True) is not None
        waiter = threading.Thread(target=wait_for_the_row)
        waiter.start()
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        with store.engine.connect() as admin:
            # Each look in a transaction of its own: PostgreSQL shows pg_stat_activity as it was at a
            # transaction's first look, so a first look before the waiter blocked would hide it for
            # good (the waiter then gave up after its 10 s, and this failed under load).
            deadline = time.monotonic() + 30
            pids = admin.exec_driver_sql(waiting).scalars().all()
            while not pids and time.monotonic() < deadline:
                admin.rollback()
                time.sleep(0.02)
                pids = admin.exec_driver_sql(waiting).scalars().all()
            # What the waiter ended with, if it did: a failure says why it never waited.
            assert pids, f"the second write never waited for the row; it ended with {outcome}"
            assert admin.exec_driver_sql(f"SELECT pg_cancel_backend({pids[0]})").scalar()
        waiter.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], LockNotHad)
