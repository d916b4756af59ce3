"""Which write waits for which on PostgreSQL's row locks (ADR 0020).

A write that is about to refer to a user or group (add it as a member, give it a
role) holds it with ``names(..., refer=True)``; a deletion holds it with
``get(..., for_delete=True)``; a PATCH with ``get(..., for_update=True)``. The
second transaction here gives up after ``lock_timeout``: whether it got through
or had to wait is its result, not a clock reading. SQLite runs one writer at a
time, so there is nothing to wait for there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
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
    except OperationalError as error:
        assert "lock timeout" in str(error.orig)
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
