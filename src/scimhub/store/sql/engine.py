"""Engines: SQLite tuned for one writer at a time, PostgreSQL pooled.

SQLite runs in WAL mode (readers never block the writer), with foreign keys on
and a busy timeout. Its driver's own transaction handling is switched off so
that write transactions start with ``BEGIN IMMEDIATE`` (``begin_writing``): the
write lock is taken up front, so two writers queue on the busy timeout instead of
one failing with "database is locked" half-way through (the shape of datasette's
write path).

A database that cannot be reached (PostgreSQL stopped or restarting, its
connections cut, no pool slot free in time) or a SQLite file locked beyond the
busy timeout is not the request's fault and not a bug: every such error is
raised as ``ServiceUnavailable`` (503 + ``Retry-After``), and logged once when
the outage starts and once when a transaction commits again (ADR 0029). A
PostgreSQL connection found dead is invalidated with the whole pool, so the
next checkout connects afresh; checkouts are not pinged first.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from scimhub.domain.text import lower_each
from scimhub.errors import ServiceUnavailable
from scimhub.store.sql.slots import WORK_IN_FLIGHT

log = logging.getLogger("scimhub.store")

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_COMMIT_CHECKPOINT_PAGES = 10_000
"""The WAL's size, in pages, past which a SQLite ``COMMIT`` checkpoints it itself (SQLite's default:
1,000). The checkpoint thread (``checkpoints.py``) copies the pages soon after each write; a commit
that found 1,000 pages would copy and sync them itself, on the event loop, and a few 100-member
PATCHes, about 300 pages each, reached that between two of the thread's runs (ADR 0077)."""
SQLITE_WAL_KEPT_BYTES = SQLITE_COMMIT_CHECKPOINT_PAGES * 4096
"""What the WAL file is cut back to when SQLite starts it over (``journal_size_limit``): room for the
pages between two checkpoints at SQLite's default page size, not whatever one large transaction once
needed."""
LOCK_WAIT_MS = SQLITE_BUSY_TIMEOUT_MS
"""How long a PostgreSQL statement waits for a lock (its session's ``lock_timeout``) before its request
is answered 503, as SQLite's busy timeout bounds a write's wait there (ADR 0069). Without it a lock held
from outside kept a core thread for as long as it was held, and four such waits stopped every request
that needs one (a bulk request, a large group's read)."""
_LOCK_NOT_HAD_STATES = ("55P03", "57014")
"""PostgreSQL's SQLSTATEs for a statement that gave up waiting, its transaction rolled back: a lock not
had within ``lock_timeout`` (55P03), or a cancel (57014). scimhub cancels no statement and sets no
``statement_timeout``, yet a ``FOR NO KEY UPDATE`` waiting on the brief write's 10 ms ``lock_timeout``
under sixteen concurrent PATCHes of one group failed once with "canceling statement due to user
request": PostgreSQL reports a pending cancel as the user's when its lock-timeout indicator is no
longer set. An operator's ``pg_cancel_backend`` is the other cause. Either way nothing was written,
and the request may be retried: neither is a 500."""
CONNECT_TIMEOUT_SECONDS = 5
"""How long a new PostgreSQL connection may take (libpq ``connect_timeout``) before the request gets a 503."""
POOL_TIMEOUT_SECONDS = 5
"""How long a request waits for a free pooled connection before it gets a 503."""
RETRY_AFTER_SECONDS = 5
"""The ``Retry-After`` of a 503 for a database that is away or locked."""
_SQLITE_BUSY_CODES = frozenset({5, 6})
"""SQLITE_BUSY and SQLITE_LOCKED, the primary codes (low byte) of a lock held too long."""
_SQLITE_STORAGE_CODES = {sqlite3.SQLITE_FULL: "the disk is full", sqlite3.SQLITE_IOERR: "an I/O error"}
"""The primary codes of a write the disk refused: no fault of the request, answered 503 like a lock."""
_POSTGRES_UNAVAILABLE_STATES = ("08", "53", "57P01", "57P02", "57P03")
"""SQLSTATE prefixes of an unreachable server: connection exceptions, insufficient
resources (too many connections), and shutdown or start-up (PostgreSQL appendix A)."""
_POSTGRES_ROLLED_BACK_STATES = ("40001", "40P01")
"""Serialization failure and deadlock: the server undid the transaction whole; the same request may
succeed at once (two PATCHes that each add the other's group as a member can meet so, ADR 0020)."""
RETRY_COLLISION_SECONDS = 1
"""The ``Retry-After`` of a 503 for a write undone through no fault of its own, which may succeed at once."""


def connections_needed(threads: int) -> int:
    """Return the PostgreSQL connections one process may hold at once with ``threads`` core threads.

    Each core thread keeps one (ADR 0054, 0067), and holds a second while a fresh credential check
    runs (ADR 0086); each of the loop's work slots keeps two (ADR 0066, 0067); a few serve the rest
    (the events' listener, a lone statement of the console's counts).
    """
    return 2 * threads + 2 * WORK_IN_FLIGHT + 4


def make_engine(url: str, *, threads: int = 4, **options: Any) -> Engine:
    """Return an engine for ``url`` with scimhub's settings for its dialect.

    On PostgreSQL its pool holds what a process of ``threads`` core threads may need at once
    (``connections_needed``), 30 at the least.

    :raises ValueError: When the URL is not a SQLite or PostgreSQL URL.
    """
    parsed = make_url(url)
    options.setdefault("json_serializer", _dumps)
    options.setdefault("json_deserializer", orjson.loads)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database not in (None, "", ":memory:") and "memory" not in parsed.query.get("mode", ""):
            options.setdefault("poolclass", _FailFastPool)
            options.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
        engine = _sqlite_engine(url, **options)
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", max(20, connections_needed(threads) - options["pool_size"]))
        options.setdefault("poolclass", _FailFastPool)
        options.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
        if "connect_timeout" not in parsed.query:
            options.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        if "options" not in parsed.query:  # a URL that sets its own session options keeps them
            options.setdefault("connect_args", {}).setdefault("options", f"-c lock_timeout={LOCK_WAIT_MS}")
        engine = create_engine(parsed, **options)
        event.listen(engine, "do_connect", _connect_cooperatively)
    else:
        raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")
    _watch_outages(engine)
    return engine


def bound_answers(engine: Engine, seconds: float) -> None:
    """Make every later connection of ``engine`` give up on a PostgreSQL silent for ``seconds`` (ADR 0090).

    The server's engine, once migrated: a migration, or a tool's statement, may rightly run for
    minutes. The connections made before are closed, so that none is left unbounded.
    """
    if engine.dialect.name != "postgresql":
        return
    engine.dispose()
    event.listen(engine, "connect", lambda connection, _record: setattr(connection, "answer_within", seconds))


def _connect_cooperatively(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect as psycopg would, with a connection whose waits a request's greenlet awaits (ADR 0066)."""
    from scimhub.store.sql.cooperative import connect  # noqa: PLC0415 - psycopg is an extra

    # scimhub prepares its own statements (ADR 0074). psycopg's, made at a statement's sixth run, it
    # would deallocate all at once after a rollback, scimhub's with them: it prepares none.
    return connect(*cargs, **{"prepare_threshold": None, **cparams})


class _FailFastPool(QueuePool):
    """A ``QueuePool`` whose checkout timeout is a 503 rather than an internal error."""

    _sqla_logger_namespace = "sqlalchemy.pool.impl.QueuePool"  # SQLAlchemy's logger, and its level

    outage: _Outage | None = None
    """The engine's outage tracker (set by ``_watch_outages``, kept by ``recreate``)."""

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as error:
            outage = self.outage or _Outage()
            raise outage.refuse("no database connection was free in time", error) from error

    def recreate(self) -> _FailFastPool:
        """Return a new pool like this one (``Engine.dispose``), with the same outage tracker."""
        # QueuePool.recreate builds ``self.__class__(…)``, though SQLAlchemy types it as QueuePool.
        pool = cast(_FailFastPool, super().recreate())
        pool.outage = self.outage
        return pool


class LockNotHad(ServiceUnavailable):
    """A PostgreSQL statement did not get a lock within ``lock_timeout`` (ADR 0069), or was cancelled.

    A cancel counts as a lock not had (``_LOCK_NOT_HAD_STATES``). Its transaction is rolled back whole.
    Retried, the request may succeed once the holder is done.
    """

    def __init__(self) -> None:
        super().__init__(
            f"what this request must lock stayed locked by another transaction for over {LOCK_WAIT_MS} ms; "
            "nothing was written: retry it",
            RETRY_COLLISION_SECONDS,
        )


def lock_not_had(error: BaseException) -> bool:
    """Whether ``error`` says a lock was not had within ``lock_timeout``.

    ``LockNotHad``, or its SQLSTATE on an engine that does not watch for it (not made by ``make_engine``).
    """
    orig = getattr(error, "orig", None)
    return isinstance(error, LockNotHad) or getattr(orig, "sqlstate", None) in _LOCK_NOT_HAD_STATES


class _Outage:
    """Turn an unavailable database into ``ServiceUnavailable``; log once as it starts and once as it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        """When the outage began (``time.monotonic()``), or None while the database answers."""
        self.refused = 0

    def refuse(self, cause: str, error: BaseException) -> ServiceUnavailable:
        """Return the error to raise for one request; log the outage if it starts now."""
        with self._lock:
            self.refused += 1
            if self.since is None:
                self.since, self.refused = time.monotonic(), 1
                log.warning(
                    "database unavailable (%s: %s); answering 503 until it is back",
                    cause,
                    _first_line(error),
                )
        return ServiceUnavailable(
            f"the database is unavailable ({cause}); retry in {RETRY_AFTER_SECONDS} seconds",
            RETRY_AFTER_SECONDS,
        )

    def heard(self, *_: Any) -> None:
        """Note a commit: the database answers; log the end of an outage."""
        if self.since is None:  # the common case, without the lock
            return
        with self._lock:
            if self.since is not None:
                log.warning(
                    "database available again after %.1f s; %d request(s) were answered 503",
                    time.monotonic() - self.since,
                    self.refused,
                )
                self.since = None


def _watch_outages(engine: Engine) -> None:
    outage = _Outage()
    if isinstance(engine.pool, _FailFastPool):
        engine.pool.outage = outage

    @event.listens_for(engine, "handle_error")
    def _unavailable(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return  # with pool_pre_ping on, SQLAlchemy replaces the dead connection itself: let it
        cause = _unavailability(context)
        if cause is not None:
            raise outage.refuse(cause, context.original_exception) from context.original_exception
        sqlstate = getattr(context.original_exception, "sqlstate", None)
        if sqlstate in _LOCK_NOT_HAD_STATES:
            raise LockNotHad from context.original_exception
        if sqlstate in _POSTGRES_ROLLED_BACK_STATES:
            log.info(
                "a transaction was rolled back by PostgreSQL: %s", _first_line(context.original_exception)
            )
            raise ServiceUnavailable(
                "the request collided with a concurrent one and was undone whole; retry it",
                RETRY_COLLISION_SECONDS,
            )

    event.listen(engine, "commit", outage.heard)


def unavailable(engine: Engine) -> bool:
    """Whether ``engine``'s database is away: a request was refused since its last commit (ADR 0029)."""
    outage = getattr(engine.pool, "outage", None)
    return outage is not None and outage.since is not None


def answered(engine: Engine) -> None:
    """Note that ``engine``'s database answered outside any transaction: an outage ends as at a commit."""
    outage = getattr(engine.pool, "outage", None)
    if outage is not None:
        outage.heard()


def _unavailability(context: ExceptionContext) -> str | None:
    """Return why the database is unavailable if ``context``'s error says it is, else None."""
    error = context.original_exception
    if context.dialect.name == "sqlite":
        code: int | None = getattr(error, "sqlite_errorcode", None)
        if code is None:
            return None
        primary = code & 0xFF
        if primary in _SQLITE_BUSY_CODES:
            return f"locked for longer than the {SQLITE_BUSY_TIMEOUT_MS // 1000} s busy timeout"
        return _SQLITE_STORAGE_CODES.get(primary)  # the disk, not the request, or None
    if context.is_disconnect:
        return "connection lost"
    dbapi = context.dialect.loaded_dbapi
    if isinstance(error, dbapi.OperationalError):
        state = getattr(error, "sqlstate", None)
        if state is None:
            if context.connection is not None:
                # An established connection failing without a server's SQLSTATE failed on the
                # client's side: its server went away mid-pipeline ("couldn't exit pipeline mode"),
                # before libpq marked it broken. Dropped now, not at its next use (a second 503).
                context.is_disconnect = True
                return "connection lost"
            return "cannot connect"  # refused, timed out, name not resolved: libpq says so without a state
        if state.startswith(_POSTGRES_UNAVAILABLE_STATES):
            return f"server says {state}"
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def register_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions our SQL expects to behave as PostgreSQL's.

    ``lower()``: SQLite's own folds ASCII only; ``lower_each`` folds as PostgreSQL's does.
    """
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:  # any SQL value: text is lowered, a number or blob passes as it is
    return lower_each(value) if isinstance(value, str) else value


def _sqlite_engine(url: str, **options: Any) -> Engine:
    options.setdefault("connect_args", {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        register_sqlite_functions(dbapi_connection)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"wal_autocheckpoint={SQLITE_COMMIT_CHECKPOINT_PAGES}",
            f"journal_size_limit={SQLITE_WAL_KEPT_BYTES}",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _journals_back_to_files(dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
        # Whatever gave the writer back (a close, a failed rollback), the next to take the connection
        # may read, and a read's large sort must go to a file, not to this process's memory (ADR 0076).
        if dbapi_connection is not None and entry.info.pop(_JOURNALS_IN_MEMORY, False):
            try:
                dbapi_connection.execute("PRAGMA temp_store=DEFAULT")
            except sqlite3.Error as error:  # it cannot serve a read either
                entry.invalidate(error)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("write"):
            return  # the store takes the write lock itself: ``begin_writing``
        if not options.get("one_statement"):  # a lone statement is its own transaction
            # Straight to the driver (ADR 0040): a deferred BEGIN takes no lock and cannot wait,
            # and SQLAlchemy's execution path cost more than the statement itself.
            connection.connection.driver_connection.execute("BEGIN DEFERRED")

    return engine


_JOURNALS_IN_MEMORY = "scimhub_journals_in_memory"
"""Key of a pooled SQLite connection's ``info``: its temporary storage is in memory (ADR 0076)."""


def journals_in_memory(connection: Connection, in_memory: bool) -> None:
    """Have SQLite keep ``connection``'s journals in memory, or in temporary files (its default).

    Between transactions: SQLite decides where a transaction's journals go when it begins. In
    memory, a savepoint's journal costs no file, but it grows with every page the savepoint
    changes, and SQLite sorts in memory too: only for transactions whose writes are bounded.
    """
    info = connection.connection.info
    if info.get(_JOURNALS_IN_MEMORY, False) != in_memory:
        driver = connection.connection.driver_connection
        assert driver is not None  # a live connection, between transactions
        driver.execute(f"PRAGMA temp_store={'MEMORY' if in_memory else 'DEFAULT'}")
        info[_JOURNALS_IN_MEMORY] = in_memory


def begin_writing(connection: Connection, *, wait: bool) -> bool:
    """Take SQLite's write lock for the transaction just begun on ``connection`` (``BEGIN IMMEDIATE``).

    Waiting, a lock held beyond the busy timeout is a 503 (through SQLAlchemy, so that it reaches
    ``handle_error``). Not waiting (ADR 0055), the lock is tried once, with the busy timeout set to
    zero for that statement alone: the answer is whether it was taken, and a taken lock is no outage.
    """
    if wait:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return True
    driver = connection.connection.driver_connection
    assert driver is not None  # a live connection: the transaction was just begun on it
    driver.execute("PRAGMA busy_timeout=0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF in _SQLITE_BUSY_CODES:
            return False
        begun = False  # another failure: met again below, through SQLAlchemy, it is classified as usual
    else:
        begun = True
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return begun or begin_writing(connection, wait=True)


def watch_pool(
    engine: Engine, size: Callable[[int], None], out: Callable[[], None], back: Callable[[], None]
) -> None:
    """Report ``engine``'s pool size to ``size``, and each connection's checkout and checkin.

    A connection counts from its checkout to its checkin; one that failed to
    connect is checked in without having been checked out, hence the mark.
    """
    pool_size = getattr(engine.pool, "size", None)
    if callable(pool_size):
        size(pool_size())

    @event.listens_for(engine, "checkout")
    def _out(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info["scimhub_out"] = True
        out()

    @event.listens_for(engine, "checkin")
    def _in(_dbapi: Any, record: Any) -> None:
        if record.info.pop("scimhub_out", False):
            back()
