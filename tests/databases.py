"""Databases for tests, in one place: fresh PostgreSQL databases and the schema the migrations build.

Every test that needs a database gets it from here (through the fixtures in tests/conftest.py), so
there is one PostgreSQL URL default and one copy of the schema: the shipped migrations, never a
hand-made ``metadata.create_all``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from scimhub.store.sql import migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL server tests create their databases on (a maintenance database every server has)."""


def postgres_unavailable(admin_url: str = POSTGRES_ADMIN_URL) -> str | None:
    """Return why the PostgreSQL at ``admin_url`` cannot be used, or None when it answers."""
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {make_url(admin_url).render_as_string()} is not reachable: {error}"
    return None


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """Create a new, empty PostgreSQL database on ``admin_url``'s server; yield its URL; drop it after."""
    name = f"scimhub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_engine(database_url: str = "sqlite://") -> Iterator[Engine]:
    """Yield an engine on ``database_url`` with the schema at head, built by the migrations.

    The default is a private in-memory SQLite database (one shared connection, so it lives as long
    as the engine).
    """
    if database_url == "sqlite://":
        engine = create_engine(database_url, poolclass=StaticPool)
    else:
        engine = create_engine(database_url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
