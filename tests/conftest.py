"""Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database per use.

PostgreSQL is the server named by ``SCIMHUB_TEST_POSTGRES_URL`` (default: the local
one at 127.0.0.1:5432). When it cannot be reached its tests skip, with the reason,
except under ``CI=true``, where they fail: CI must prove both engines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string()} is not reachable: {error}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Return the URL of a PostgreSQL server to create test databases on, or skip."""
    reason = _postgres_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def fresh_postgres(postgres_admin_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database; drop it afterwards."""
    yield from _postgres_database(postgres_admin_url)


def _postgres_database(admin_url: str) -> Iterator[str]:
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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """Yield an empty database URL, once per backend (SQLite file, PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/scimhub.db"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture(scope="session", params=BACKENDS)
def session_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``database_url``, shared by a whole session (for the live servers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/scimhub.db"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_admin_url"))
