from __future__ import annotations

from collections.abc import Iterator

import pytest

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
