"""Databases for tests, in one place: fresh PostgreSQL databases and the schema the migrations build.

Every test that needs a database gets it from here (through the fixtures in tests/conftest.py), so
there is one PostgreSQL URL default and one copy of the schema: the shipped migrations, never a
hand-made ``metadata.create_all``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import register_sqlite_functions

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
def postgres_database(
    admin_url: str, *, migrated: bool = False, locale: str | None = None, encoding: str = "UTF8"
) -> Iterator[str]:
    """Create a new PostgreSQL database on ``admin_url``'s server; yield its URL; drop it after.

    Empty, or with ``migrated`` the schema at the migrations' head: a copy of this process's
    template (``CREATE DATABASE … TEMPLATE``), which skips the hundred DDL statements the
    migrations run (0.25 s on an idle server, over a second under the suite's load). ``locale``:
    an empty database with that libc locale (and ``encoding``) instead of the server's default.
    """
    if locale is not None and migrated:
        raise ValueError("a migrated database is a copy of the template, in the server's locale")
    name = f"scimhub_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_postgres_template(admin_url)}"' if migrated else ""
    if locale is not None:
        template = f" TEMPLATE template0 ENCODING '{encoding}' LOCALE_PROVIDER libc LOCALE '{locale}'"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield _url_of(admin_url, name)
    finally:
        _drop(admin, name)
        admin.dispose()


def migrated_sqlite(path: Path) -> None:
    """Put a SQLite database with the schema at the migrations' head at ``path``: a copy of this process's."""
    shutil.copyfile(_sqlite_template(), path)


@cache
def _postgres_template(admin_url: str) -> str:
    """Return this process's migrated template database on ``admin_url``'s server, dropped when it exits."""
    name = f"scimhub_test_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    with migrated_engine(_url_of(admin_url, name)):
        pass  # disposed on leaving: a template must have no connection when it is copied
    atexit.register(admin.dispose)
    atexit.register(_drop, admin, name)  # atexit runs last-in first: the drop, then the dispose
    return name


@cache
def _sqlite_template() -> Path:
    """Return this process's migrated SQLite file, removed when it exits."""
    directory = Path(tempfile.mkdtemp(prefix="scimhub-test-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "scimhub.db"
    with migrated_engine(f"sqlite:///{path}"):
        pass  # the last connection's close checkpoints the WAL into the file
    return path


def _url_of(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
    if engine.dialect.name == "sqlite":  # lower() as the server's engine has it
        event.listen(engine, "connect", lambda connection, _: register_sqlite_functions(connection))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


_ADVISORY_LOCK_WAITERS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_LOCK_WAITERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def wait_for_an_advisory_lock_waiter(
    engine: Engine, *, waited: float = 0.0, gave_up: Callable[[], bool] = lambda: False, count: int = 1
) -> None:
    """Return once ``count`` connections to ``engine``'s PostgreSQL database have waited ``waited`` seconds
    for an advisory lock (the events' commit-order lock, ADR 0011); fail after 15 s, or once ``gave_up()``."""
    _wait_for_waiters(engine, _ADVISORY_LOCK_WAITERS, waited, gave_up, count)


def wait_for_a_lock_waiter(engine: Engine) -> None:
    """Return once a connection to ``engine``'s PostgreSQL database waits for a lock (a row's); fail after
    15 s."""
    _wait_for_waiters(engine, _LOCK_WAITERS, 0.0, lambda: False, 1)


def _wait_for_waiters(
    engine: Engine, counting: str, waited: float, gave_up: Callable[[], bool], count: int
) -> None:
    deadline, since = time.monotonic() + 15, None
    with engine.connect() as watcher:
        while time.monotonic() < deadline and not gave_up():
            waiting = watcher.exec_driver_sql(counting).scalar_one()
            watcher.rollback()  # a fresh snapshot of pg_locks and pg_stat_activity each time
            since = (since or time.monotonic()) if waiting >= count else None
            if since is not None and time.monotonic() - since >= waited:
                return
            time.sleep(0.01)
    raise AssertionError("no connection came to wait for a lock")
