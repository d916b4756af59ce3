"""``SqlStore``: the store contract on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from scimhub.store.contract import CommitListener
from scimhub.store.records import Credential
from scimhub.store.sql.console import SqlFailureRows, SqlResetRows, SqlSessionRows
from scimhub.store.sql.directory import SqlGroupRows, SqlUserRows
from scimhub.store.sql.events import SqlEventLog, number_queued
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

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` after each later commit that wrote events; return what stops it."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit or roll back whole.

        The events appended during it are written last, right before the commit; on
        PostgreSQL they are numbered right after it, on the same connection, so they
        are in the feed when this returns (ADR 0050). Once they are, the ``on_commit``
        listeners hear of them.
        """
        with self._writers, self.engine.connect().execution_options(write=True) as connection:
            with connection.begin():
                tx = SqlTransaction(connection)
                yield tx
                tx.events.flush()
            written = self._numbered(connection) if tx.events.queued else tx.events.written_through
        if written is not None:
            for listener in tuple(self._commit_listeners):  # the list may change on another thread
                try:
                    listener(written)
                except Exception:  # noqa: BLE001 - the change committed; the caller must hear so
                    log.exception("a commit listener failed")

    @staticmethod
    def _numbered(connection: Connection) -> int | None:
        """Return the highest seq given to the events of the write that just committed; None on failure.

        The change and its events are committed: a failure here (the database went away
        between the two commits) must not turn the write into an error its client would
        retry. The events stay queued, durable, and the next pass numbers them.
        """
        try:
            return number_queued(connection)
        except SQLAlchemyError:
            log.warning("could not number the events of a committed write; the next pass will", exc_info=True)
            return None

    def number_events(self) -> None:
        """Give the committed events still waiting for their ``seq`` theirs (PostgreSQL; ADR 0050).

        Every write numbers its own events before ``transaction`` returns; a write
        killed between its commit and that pass leaves them queued, durable. The
        feed's readers call this before they read, so such events are delivered by
        the next read at the latest. On SQLite there is never anything to number.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as connection:
                number_queued(connection)

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        """Open a read transaction: one snapshot for every query in it."""
        with self._reader.connect() as connection, connection.begin():
            yield SqlTransaction(connection)

    def credential(self, hash: str) -> Credential | None:
        """Return the token whose hash is ``hash`` with its user and roles, by one statement; or None."""
        with self._single.connect() as connection:
            return read_credential(connection, hash)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
