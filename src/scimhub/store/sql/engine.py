"""Engines: SQLite tuned for one writer at a time, PostgreSQL pooled.

SQLite runs in WAL mode (readers never block the writer), with foreign keys on
and a busy timeout. Its driver's own transaction handling is switched off so
that write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken
up front, so two writers queue on the busy timeout instead of one failing with
"database is locked" half-way through (the shape of datasette's write path).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **options: Any) -> Engine:
    """Return an engine for ``url`` with scimhub's settings for its dialect.

    :raises ValueError: When the URL is not a SQLite or PostgreSQL URL.
    """
    parsed = make_url(url)
    options.setdefault("json_serializer", _dumps)
    options.setdefault("json_deserializer", orjson.loads)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, **options)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        options.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **options)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(url: str, **options: Any) -> Engine:
    options.setdefault("connect_args", {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        # SQLite's lower() folds ASCII only; Python's agrees with PostgreSQL and the *_key columns.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
