"""SQLite keeps a credential read until anything is committed anywhere (ADR 0059).

Two stores on one file stand for two processes: each has its own engine and connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.store.records import TokenRecord
from scimhub.store.sql import migrate, tokens
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from tests.store.contract_store import make_group, make_user

ROLES_STATEMENT = "WITH RECURSIVE"
"""What the credential's statement, and no other statement here, says."""


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/kept.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def stores(url: str) -> Iterator[tuple[SqlStore, SqlStore]]:
    """This process's store, and another process's."""
    made = [SqlStore(make_engine(url)) for _ in range(2)]
    yield made[0], made[1]
    for store in made:
        store.close()
        store.engine.dispose()


def _credential_reads(engine: Engine) -> list[str]:
    """Record each run of the credential's statement on ``engine``'s connections from now on."""
    ran: list[str] = []

    def trace(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.set_trace_callback(  # type: ignore[attr-defined]
            lambda sql: ran.append(sql) if ROLES_STATEMENT in sql else None
        )

    event.listen(engine, "connect", trace)
    return ran


def _token_of_a_new_user(store: SqlStore) -> tuple[str, str]:
    """Store a user and a token acting as it; return the user's id and the token's hash."""
    user = make_user()
    with store.transaction() as tx:
        tx.users.insert(user)
        tx.tokens.insert(TokenRecord("t1", "hash-1", "ci", None, user.id, None, 5, None, None))
    return user.id, "hash-1"


def test_a_credential_is_read_once_while_nothing_is_committed(url: str) -> None:
    store = SqlStore(make_engine(url))
    reads = _credential_reads(store.engine)
    _, hash = _token_of_a_new_user(store)
    first = store.credential(hash)
    assert first is not None
    assert [store.credential(hash) for _ in range(3)] == [first] * 3
    assert len(reads) == 1
    store.close()
    store.engine.dispose()


def test_an_unknown_hash_is_read_each_time(url: str) -> None:
    """Nothing is kept for a hash that matches no token: guesses cannot fill the memory."""
    store = SqlStore(make_engine(url))
    reads = _credential_reads(store.engine)
    assert [store.credential("guess") for _ in range(3)] == [None] * 3
    assert len(reads) == 3
    store.close()
    store.engine.dispose()


def test_a_revocation_by_another_process_is_seen_at_the_next_read(stores: tuple[SqlStore, SqlStore]) -> None:
    here, there = stores
    _, hash = _token_of_a_new_user(here)
    assert here.credential(hash) is not None
    with there.transaction() as tx:
        tx.tokens.revoke("t1", 11)
    assert here.credential(hash) is None


def test_a_suspension_and_a_role_by_another_process_are_seen_at_the_next_read(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    here, there = stores
    user_id, hash = _token_of_a_new_user(here)
    kept = here.credential(hash)
    assert kept is not None and kept.active and kept.roles == ()
    group = make_group()
    with there.transaction() as tx:
        tx.groups.insert(group)
        tx.members.apply(group.id, MemberChange(add=(Member(user_id),)))
        tx.roles.assign("group", group.id, Role.ADMIN)
    assert here.credential(hash).roles == ("Admin",)  # type: ignore[union-attr]
    with there.transaction() as tx:
        suspended = tx.users.get(user_id)
        assert suspended is not None
        tx.users.update(replace(suspended, doc={**suspended.doc, "active": False}))
    assert here.credential(hash).active is False  # type: ignore[union-attr]


def test_a_write_on_the_reading_connection_itself_is_seen(url: str) -> None:
    """``data_version`` does not move for a connection's own commits: ``total_changes`` does."""
    store = SqlStore(make_engine(url))
    user_id, hash = _token_of_a_new_user(store)
    with store.engine.connect().execution_options(one_statement=True) as connection:
        assert tokens.kept_credential(connection, hash).active  # type: ignore[union-attr]
        connection.execute(text("UPDATE users SET active = 0 WHERE id = :id"), {"id": user_id})
        assert tokens.kept_credential(connection, hash).active is False  # type: ignore[union-attr]
    store.close()
    store.engine.dispose()


def test_nothing_read_inside_a_transaction_is_kept() -> None:
    """One connection for reads and writes (an in-memory database): a credential read inside a write
    transaction that is rolled back must not outlive it, though the rollback moves neither number.
    Found by an adversarial run of ADR 0059."""
    store = SqlStore(make_engine("sqlite://"))
    migrate.upgrade(store.engine)
    user_id, hash = _token_of_a_new_user(store)
    assert store.credential(hash).roles == ()  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.roles.assign("user", user_id, Role.ADMIN)
        assert store.credential(hash).roles == ("Admin",)  # type: ignore[union-attr]
        raise RuntimeError("roll back")
    assert store.credential(hash).roles == ()  # type: ignore[union-attr]
    store.close()
    store.engine.dispose()


def test_what_a_connection_keeps_is_bounded(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "KEPT_CREDENTIALS", 2)
    store = SqlStore(make_engine(url))
    user = make_user()
    with store.transaction() as tx:
        tx.users.insert(user)
        for n in range(3):
            tx.tokens.insert(TokenRecord(f"t{n}", f"hash-{n}", "ci", None, user.id, None, 5, None, None))
    reads = _credential_reads(store.engine)
    for _ in range(2):
        for n in range(3):
            assert store.credential(f"hash-{n}") is not None
    # Each time the memory is full it starts again empty: the third hash empties it, then the
    # first two are read again and the second empties it once more.
    assert len(reads) == 6
    store.close()
    store.engine.dispose()
