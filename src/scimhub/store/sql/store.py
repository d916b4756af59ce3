"""``SqlStore``: the store contract on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Connection, Engine, QueuePool, text

from scimhub.store.contract import CommitListener
from scimhub.store.records import Credential
from scimhub.store.sql.console import SqlFailureRows, SqlResetRows, SqlSessionRows
from scimhub.store.sql.directory import SqlGroupRows, SqlUserRows
from scimhub.store.sql.events import SqlEventLog
from scimhub.store.sql.members import SqlMemberRows
from scimhub.store.sql.push import SqlPushRows
from scimhub.store.sql.roles import SqlRoleRows
from scimhub.store.sql.tokens import SqlSecretRows, SqlTokenRows, read_credential

log = logging.getLogger("scimhub.store")


class SqlTransaction:
    """Every kind of row, bound to one connection inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.users = SqlUserRows(connection)
        self.groups = SqlGroupRows(connection)
        self.members = SqlMemberRows(connection)
        self.roles = SqlRoleRows(connection)
        self.tokens = SqlTokenRows(connection)
        self.secrets = SqlSecretRows(connection)
        self.events = SqlEventLog(connection)
        self.push = SqlPushRows(connection)
        self.sessions = SqlSessionRows(connection)
        self.resets = SqlResetRows(connection)
        self.failures = SqlFailureRows(connection)


class _Connections:
    """Connections of an engine for one use; with ``hold``, one per thread kept checked out (ADR 0054).

    A read on SQLite costs the database about 10 µs; taking a connection from the pool and giving it
    back (the pool's bookkeeping, its listeners, the rollback on return) cost more than that, twice a
    request. A held thread that is still inside a transaction of its own when it asks again (a
    stream, ADR 0019, left open across requests) gets one from the pool for the nested use. What a
    thread held goes back to the pool once the thread has ended (a worker of a thread pool that
    shrinks), seen when another thread first asks.
    """

    def __init__(self, engine: Engine, *, hold: bool) -> None:
        self._engine, self._hold = engine, hold
        self._lock = threading.Lock()
        self._held: dict[threading.Thread, Connection] = {}

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield this thread's held connection, else one from the pool, given back after."""
        held = self._own() if self._hold else None
        if held is None or held.in_transaction():
            with self._engine.connect() as connection:
                yield connection
        else:
            yield held

    def _own(self) -> Connection:
        thread = threading.current_thread()
        held = self._held.get(thread)
        if held is not None and not held.closed:
            return held
        with self._lock:
            for ended in [t for t, c in self._held.items() if not t.is_alive() and not c.in_transaction()]:
                self._held.pop(ended).close()
            held = self._held[thread] = self._engine.connect()
        return held

    def idle(self) -> int:
        """Return how many held connections are not inside a transaction: checked out, but not in use."""
        return sum(not connection.in_transaction() for connection in list(self._held.values()))

    def close(self) -> None:
        """Give every held connection back to the pool (the engine is about to be disposed of)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for connection in held:
            connection.close()


class SqlStore:
    """A SQLite or PostgreSQL database holding scimhub's tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite takes one writer at a time, and makes the others poll with growing
        # sleeps (up to 100 ms): the process's own writers queue on a lock instead,
        # in order, and only other processes meet the busy timeout (ADR 0016).
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        # PostgreSQL reads see one snapshot: psycopg opens them with
        # BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, one round trip, not two.
        self._reader = (
            engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            if engine.dialect.name == "postgresql"
            else engine
        )
        # One statement needs no transaction around it: it sees one snapshot by itself. PostgreSQL
        # then runs it in one round trip instead of three (BEGIN, the statement, ROLLBACK); SQLite's
        # connection issues no BEGIN when told ``one_statement`` (engine.py), ADR 0040.
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine.execution_options(one_statement=True)
        )
        self._commit_listeners: list[CommitListener] = []
        # SQLite's reads keep a connection per thread: the pool's round costs more than the read.
        # PostgreSQL's stay pooled: the pool is what finds a connection a restarted server dropped.
        hold = engine.dialect.name == "sqlite"
        self._reads = _Connections(self._reader, hold=hold)
        self._lone = _Connections(self._single, hold=hold)

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` after each later commit that wrote events; return what stops it."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit or roll back whole.

        The events appended during it are written last, right before the commit
        (ADR 0011); once it committed, the ``on_commit`` listeners hear of them.
        """
        with self._writers, self.engine.connect().execution_options(write=True) as connection:
            with connection.begin():
                tx = SqlTransaction(connection)
                yield tx
                tx.events.flush()
            written = tx.events.written_through
        if written is not None:
            for listener in tuple(self._commit_listeners):  # the list may change on another thread
                try:
                    listener(written)
                except Exception:  # noqa: BLE001 - the change committed; the caller must hear so
                    log.exception("a commit listener failed")

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        """Open a read transaction: one snapshot for every query in it."""
        with self._reads.connection() as connection, connection.begin():
            yield SqlTransaction(connection)

    def credential(self, hash: str) -> Credential | None:
        """Return the token whose hash is ``hash`` with its user and roles, by one statement; or None."""
        with self._lone.connection() as connection:
            return read_credential(connection, hash)

    def in_use(self) -> int:
        """Return how many of the pool's connections are in use: checked out, less those held idle."""
        pool = self.engine.pool
        checked_out = pool.checkedout() if isinstance(pool, QueuePool) else 0
        return checked_out - self._reads.idle() - self._lone.idle()

    def close(self) -> None:
        """Give back the connections held for reads; then the engine may be disposed of."""
        self._reads.close()
        self._lone.close()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
