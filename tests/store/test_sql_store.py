from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.store.testing import StoreContract


class TestSqlStore(StoreContract):
    """The store contract on SQLite and on PostgreSQL, schema built by the migrations."""

    @pytest.fixture
    def store(self, database_url: str) -> Iterator[SqlStore]:
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        yield SqlStore(engine)
        engine.dispose()


def test_the_migrations_match_the_tables(database_url: str) -> None:
    """`upgrade head` yields exactly the schema the code declares (no drift)."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.check(engine)
    engine.dispose()


def test_tokens_survive_the_migration_that_frees_their_owner(database_url: str) -> None:
    """Upgrading from 7c6b155e66e8 keeps existing tokens; then deleting an owner leaves its tokens, ownerless.

    The rows are written in SQL as that revision stores them, so the test keeps
    meaning the same whatever the store's code writes later.
    """
    engine = make_engine(database_url)
    migrate.upgrade(engine, "7c6b155e66e8")
    user = (
        "INSERT INTO users (id, user_name, user_name_key, urn, active, doc, version, created, last_modified)"
        " VALUES (:id, :name, :name, :urn, true, '{}', 1, 1, 1)"
    )
    token = (
        "INSERT INTO tokens (id, hash, name, actor_id, owner_id, created)"
        " VALUES (:id, :hash, 'a token', :actor_id, :owner_id, 1)"
    )
    with engine.begin() as connection:
        connection.execute(
            text(user),
            [{"id": id, "name": id, "urn": f"urn:li:corpuser:{id}"} for id in ("admin", "entra")],
        )
        connection.execute(
            text(token),
            [
                {"id": "for-entra", "hash": "h1", "actor_id": "entra", "owner_id": "admin"},
                {"id": "own", "hash": "h2", "actor_id": "admin", "owner_id": "admin"},
            ],
        )

    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE id = 'admin'"))
        left = connection.execute(text("SELECT id, actor_id, owner_id FROM tokens")).all()
    engine.dispose()

    assert [tuple(row) for row in left] == [("for-entra", "entra", None)]
