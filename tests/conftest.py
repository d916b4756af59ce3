"""Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database per use.

PostgreSQL is the server named by ``SCIMHUB_TEST_POSTGRES_URL`` (default: the local
one at 127.0.0.1:5432). When it cannot be reached its tests skip, with the reason,
except under ``CI=true``, where they fail: CI must prove both engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scimhub.directory.passwords import Cost, use_cost
from tests.databases import POSTGRES_ADMIN_URL, migrated_sqlite, postgres_database, postgres_unavailable

BACKENDS = ("sqlite", "postgresql")

# Passwords hashed in the tests' own processes cost 1 MiB and one pass, not RFC 9106's 64 MiB and
# three (0.16 s each, 0.3 s with the suite's four workers on two cores: a fifth of the console's and
# CLI's test time). The default cost is pinned by tests/directory/test_passwords.py; servers the
# tests start as processes keep it.
use_cost(Cost(time=1, memory_kib=1024, parallelism=1))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Return the URL of a PostgreSQL server to create test databases on, or skip."""
    reason = postgres_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def fresh_postgres(postgres_admin_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database; drop it afterwards."""
    with postgres_database(postgres_admin_url) as url:
        yield url


def _migrated_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """Yield a database of ``request.param``'s engine with the schema at the migrations' head: a SQLite
    file in ``directory``, or a fresh PostgreSQL database, dropped afterwards (both copied from one
    migrated template per process, tests/databases.py). What runs on it migrates it again: a no-op."""
    if request.param == "sqlite":
        migrated_sqlite(directory / "scimhub.db")
        yield f"sqlite:///{directory}/scimhub.db"
    else:
        with postgres_database(request.getfixturevalue("postgres_admin_url"), migrated=True) as url:
            yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new database with no schema, once per backend: for what migrations do."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/scimhub.db"
    else:
        yield request.getfixturevalue("fresh_postgres")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield a new database's URL, schema at head, once per backend (SQLite file, PostgreSQL database).

    ``fresh_postgres`` is an empty one, for what a migration does to an empty database."""
    yield from _migrated_database(request, tmp_path)


@pytest.fixture(scope="session", params=BACKENDS)
def session_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``database_url``, shared by a whole session (for the live servers)."""
    yield from _migrated_database(request, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``database_url``, shared by the tests of one module (for data loaded once and only read)."""
    yield from _migrated_database(request, tmp_path_factory.mktemp("db"))
