"""Fixtures of the SQL store's own tests; a module that needs another engine defines its own ``engine``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from scimhub.store.sql.store import SqlStore
from tests.databases import migrated_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a new database, once per backend (SQLAlchemy's defaults, not the server's)."""
    with migrated_engine(database_url) as engine:
        yield engine


@pytest.fixture
def store(engine: Engine) -> Iterator[SqlStore]:
    """A store on ``engine``, closed after the test."""
    store = SqlStore(engine)
    yield store
    store.close()
