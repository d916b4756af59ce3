"""``SqlStore``: the store contract on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar, get_type_hints

from sqlalchemy import Connection, Engine, QueuePool, event, text
from sqlalchemy.exc import OperationalError

from scimhub.store.contract import CommitListener, CredentialCheck, WouldWait
from scimhub.store.records import Credential
from scimhub.store.sql.checkpoints import Checkpointer
from scimhub.store.sql.console import SqlFailureRows, SqlResetRows, SqlSessionRows
from scimhub.store.sql.credentials import CheckedCredentials
from scimhub.store.sql.directory import SqlGroupRows, SqlUserRows
from scimhub.store.sql.engine import LockNotHad, answered, begin_writing, journals_in_memory, lock_not_had
from scimhub.store.sql.events import SqlEventLog
from scimhub.store.sql.members import SqlMemberRows
from scimhub.store.sql.prepared import Steps, begin_ahead, begin_with, keep_writes_ahead
from scimhub.store.sql.push import SqlPushRows
from scimhub.store.sql.roles import SqlRoleRows
from scimhub.store.sql.shared_commits import SharedCommit
from scimhub.store.sql.slots import Owner, Slots, owner
from scimhub.store.sql.tokens import SqlSecretRows, SqlTokenRows, kept_credential

log = logging.getLogger("scimhub.store")

T = TypeVar("T")

LOOP_LOCK_WAIT_MS = 10
"""How long a PostgreSQL write on the event loop waits for a lock before it moves to a core thread
(ADR 0058, 0066): its holders commit within a round trip or two unless they are long writes
themselves, and a wait without end would keep its work slot from every other request."""
_BEGIN_SNAPSHOT: Steps = [(text("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"), None)]
"""How a PostgreSQL read begins: every statement of it sees one snapshot."""


class SqlTransaction:
    """Every kind of row, bound to one connection inside one transaction.

    Each kind is made at its first use: a request uses two or three of the eleven, and making them
    all cost every transaction about as much as the lookup's statement.
    """

    users: SqlUserRows
    groups: SqlGroupRows
    members: SqlMemberRows
    roles: SqlRoleRows
    tokens: SqlTokenRows
    secrets: SqlSecretRows
    events: SqlEventLog
    push: SqlPushRows
    sessions: SqlSessionRows
    resets: SqlResetRows
    failures: SqlFailureRows

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __getattr__(self, name: str) -> object:
        """Make the rows ``name`` stands for, once: later reads find them in the instance."""
        try:
            kind = _KINDS[name]
        except KeyError:
            raise AttributeError(name) from None
        rows = kind(self.connection)
        setattr(self, name, rows)
        return rows


_KINDS: dict[str, Callable[[Connection], object]] = get_type_hints(SqlTransaction)
"""The class of each kind of row, by its attribute's name."""


class _Connections:
    """Connections of an engine for one use, one per owner kept checked out (ADR 0054, ADR 0056).

    The owner is a thread, or a slot of the event loop's work in greenlets (ADR 0066, ``slots``):
    below, "thread" stands for either.

    A read on SQLite costs the database about 10 µs; taking a connection from the pool and giving it
    back (the pool's bookkeeping, its listeners, the isolation level set and reset, the rollback on
    return) cost more than that, twice a request, and as much on PostgreSQL. A held thread that is
    still using its connection when it asks again (a stream, ADR 0019, left open across requests)
    gets one from the pool for the nested use. What a thread held goes back to the pool once the
    thread has ended (a worker of a thread pool that shrinks), seen when another thread first asks.
    When a connection is found dropped (PostgreSQL restarted, its connections cut), the pool
    replaces all of its own, and ``forget`` has every held one given back and taken anew at its
    thread's next use: each would otherwise fail one more request. A held connection is only ever
    touched by its own thread while in use: ``close`` from another thread leaves it to be closed
    when that use ends.
    """

    def __init__(self, engine: Engine, session: str | None = None) -> None:
        self._engine = engine
        self._session = session
        """A ``SET`` run on each connection when taken: then it is closed for good rather than pooled."""
        self._lock = threading.Lock()
        self._held: dict[Owner, Connection] = {}
        self._taken_in: dict[Owner, int] = {}
        self._generation = 0
        """Bumped by ``forget``: a connection held since an earlier one may have been dropped."""
        self._busy: set[Owner] = set()
        """The threads using their held connection now: only they may touch it (or close it)."""
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield this thread's held connection, else one from the pool, given back after."""
        thread = owner()
        held = self._take(thread)
        if held is None:
            with self._engine.connect() as connection:
                yield connection
            return
        try:
            yield held
        finally:
            self._give_back(thread)  # the use may end on another thread: a stream's does (ADR 0019)

    def _take(self, thread: Owner) -> Connection | None:
        """Mark ``thread``'s held connection busy and return it; None for a nested use or a closed store."""
        with self._lock:
            if thread in self._busy or self._closed:
                return None
            held = self._held.get(thread)
            if held is not None and not held.closed and self._taken_in[thread] == self._generation:
                self._busy.add(thread)
                return held
            gone = [t for t in self._held if t is thread or not (t.is_alive() or t in self._busy)]
            done = [self._held.pop(t) for t in gone]
            for t in gone:
                del self._taken_in[t]
            self._busy.add(thread)  # connecting may take a while (PostgreSQL): outside the lock
            generation = self._generation
        try:
            for connection in done:
                self._release(connection)
            held = self._connect()
        except BaseException:
            self._give_back(thread)
            raise
        with self._lock:
            self._held[thread], self._taken_in[thread] = held, generation
        return held

    def _connect(self) -> Connection:
        connection = self._engine.connect()
        if self._session is not None:
            try:
                connection.exec_driver_sql(self._session)
                connection.commit()
            except BaseException:
                self._release(connection)
                raise
        return connection

    def _release(self, connection: Connection) -> None:
        """Give ``connection`` back to the pool; closed for good if its session was set: the setting ends.

        Detached, not invalidated: invalidating fires the pool's ``invalidate``, which says the
        server dropped connections, and every held one would be taken anew, this one's
        replacement with them, at each use (found by an adversarial run of ADR 0058).
        """
        if self._session is not None and not connection.invalidated:
            connection.detach()
        connection.close()

    def forget(self) -> None:
        """Say that the server dropped connections: each held one is given back at its next use."""
        with self._lock:
            self._generation += 1

    def _give_back(self, thread: Owner) -> None:
        with self._lock:
            self._busy.discard(thread)
            closing = self._held.pop(thread, None) if self._closed else None
        if closing is not None:  # the store was closed while this thread used it
            self._release(closing)

    def idle(self) -> int:
        """Return how many held connections are checked out but not in use."""
        with self._lock:
            return len(self._held) - len(self._busy & self._held.keys())

    def close(self) -> None:
        """Give every held connection back to the pool; one in use goes back when its use ends."""
        with self._lock:
            self._closed = True
            idle = [thread for thread in self._held if thread not in self._busy]
            closing = [self._held.pop(thread) for thread in idle]
        for connection in closing:
            self._release(connection)


class _LoopWork:
    """A request's work run unwaiting (``SqlStore.unwaiting``): what it wrote, and where."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        """The event loop running it, whose turn its SQLite writes share a commit with (ADR 0061)."""
        self.wrote = False
        """Whether a write of it succeeded: the work can no longer be run again elsewhere."""
        self.shared: SharedCommit | None = None
        """The shared transaction it ran statements in: its answer waits for that commit."""

    async def committed(self) -> None:
        """Return once its writes are committed; raise ``ScimhubError`` if their shared commit failed."""
        if self.shared is not None:
            await self.shared.done


_unwaiting: ContextVar[_LoopWork | None] = ContextVar("scimhub_unwaiting", default=None)


class _Confirmed:
    """The check of a credential that needs none (``SqlStore.checking_credentials`` on SQLite)."""

    unconfirmed = False


_NO_CHECK: AbstractContextManager[CredentialCheck] = nullcontext(_Confirmed())
_NOTHING: AbstractContextManager[None] = nullcontext()


class SqlStore:
    """A SQLite or PostgreSQL database holding scimhub's tables."""

    def __init__(self, engine: Engine, *, interleave: bool = True) -> None:
        """``interleave``: on PostgreSQL, let a loop's requests overlap their waits (``cooperate``)."""
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self._interleave = interleave and not sqlite
        self._writers = threading.Lock() if sqlite else None
        self._checkpoints = Checkpointer(engine) if sqlite else None
        self._commit_listeners: list[CommitListener] = []
        # SQLAlchemy invalidates a connection it found dropped, and the pool's others with it.
        event.listen(engine, "invalidate", self._dropped)
        self._write_engine: Engine = engine.execution_options(write=True)
        if not sqlite:  # a write's BEGIN and rows go out with its next statements (ADR 0063)
            keep_writes_ahead(engine)
            self._write_engine = begin_ahead(self._write_engine)
        # Each thread (or slot of the loop's work, ADR 0066) keeps its connections: the pool's round
        # costs more than a read. On PostgreSQL one connection serves its reads, writes and lone
        # statements: each transaction says how it begins, sent with its first statements (ADR 0067).
        # A lone statement needs no transaction around it: it sees one snapshot by itself (ADR 0040,
        # 0057); PostgreSQL runs it in the driver's autocommit, SQLite's connection issues no BEGIN
        # when told ``one_statement`` (engine.py).
        self._reads = _Connections(engine if sqlite else self._write_engine)
        self._writes = None if sqlite else self._reads  # SQLite's take turns on one (``_writer``)
        self._lone = _Connections(engine.execution_options(one_statement=True)) if sqlite else self._reads
        # A request's first write on the loop gives up a lock it would wait for, and moves to a core
        # thread (ADR 0058): waiting, it would keep its work slot from every other request (ADR 0066).
        # Its connection's session says so: a ``SET LOCAL`` in each such write cost a create 7.7 % more
        # instructions (ADR 0067). Only the loop's owners (its slots, or its thread) ever take one.
        self._brief_writes = (
            None if sqlite else _Connections(self._write_engine, f"SET lock_timeout = {LOOP_LOCK_WAIT_MS}")
        )
        # Read again in the round trip of the request's first statement, not before it (ADR 0083); a
        # run again's writes read it apart from their own rows, on one of the pool's (ADR 0086).
        self._checked = (
            None if sqlite else CheckedCredentials(self._lone.connection, self._write_engine.connect)
        )
        self._held = [self._reads, self._lone if self._brief_writes is None else self._brief_writes]
        """Every set of connections kept per thread: forgotten, counted and closed together."""
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Slots] = weakref.WeakKeyDictionary()
        """Per event loop, the slots of the requests' work interleaved on it (PostgreSQL, ADR 0066)."""
        self._writer: Connection | None = None
        """SQLite's one connection for writes, kept: they take turns on ``_writers`` (ADR 0055)."""
        self._shared: SharedCommit | None = None
        """SQLite's transaction open for the writes of this turn of the event loop; it holds ``_writers``
        (ADR 0061)."""
        self._closed = False

    def _dropped(self, *_: object) -> None:
        for held in self._held:
            held.forget()

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` after each later commit that wrote events; return what stops it."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit or roll back whole.

        The events appended during it are written last, right before the commit
        (ADR 0011); once it committed, the ``on_commit`` listeners hear of them.
        Within ``unwaiting``, the first one raises ``WouldWait`` instead of waiting (ADR 0055). On
        PostgreSQL, whose locks are taken by any statement of a transaction (a row, the events'
        order), it runs on a connection whose ``lock_timeout`` is ``LOOP_LOCK_WAIT_MS``: a lock not
        had by then rolls it back whole, and it raises then (ADR 0058): the work slot it holds
        (``cooperate``, ADR 0066) serves others rather than wait. On SQLite, within ``unwaiting``
        on the event loop, it is a savepoint of the transaction that the loop's writes of one turn
        share, committed after the turn (ADR 0061). On PostgreSQL, a credential answered from memory
        (``checking_credentials``) is checked last, in its commit's round trip, which fails whole when
        that no longer holds (ADR 0084).
        """
        work = _unwaiting.get()
        if work is not None and work.loop is not None and self._writers is not None and not self._closed:
            with self._shared_write(work) as tx:
                yield tx
            return
        wait = work is None or work.wrote
        with self._write_connection(wait) as connection:
            try:
                with connection.begin():
                    if self._writers is not None and not begin_writing(connection, wait=wait):
                        raise WouldWait
                    if self._checked is not None:  # nothing is written unless the credential holds (ADR 0084)
                        self._checked.asserted(connection)
                    tx = SqlTransaction(connection)
                    yield tx
                    tx.events.flush()
            except (LockNotHad, OperationalError) as error:
                if not wait and lock_not_had(error):
                    raise WouldWait from None  # rolled back whole: nothing was written
                raise
            written = tx.events.written_through
        if work is not None:
            work.wrote = True
        self._committed(written)

    def _committed(self, written: int | None) -> None:
        """Say that a transaction committed: to the checkpoints, and to the listeners if it wrote events."""
        if self._checkpoints is not None:
            self._checkpoints.wrote()
        if written is not None:
            for listener in tuple(self._commit_listeners):  # the list may change on another thread
                try:
                    listener(written)
                except Exception:  # noqa: BLE001 - the change committed; the caller must hear so
                    log.exception("a commit listener failed")

    @contextmanager
    def _shared_write(self, work: _LoopWork) -> Iterator[SqlTransaction]:
        """Run a write of ``work`` in a savepoint of the loop turn's shared transaction (ADR 0061).

        The first write of the turn opens it, taking the process's turn and SQLite's lock as any
        write would, without waiting unless ``work`` already wrote (``WouldWait``, ADR 0055), and
        has it committed by a callback after the turn.
        """
        shared = self._shared
        if shared is None:
            shared = self._open_shared(work)
        work.shared = shared
        with shared.member(SqlTransaction) as tx:
            yield tx
        work.wrote = True

    def _open_shared(self, work: _LoopWork) -> SharedCommit:
        assert self._writers is not None and work.loop is not None
        if not self._writers.acquire(blocking=work.wrote):
            raise WouldWait
        try:
            writer = self._kept_writer()
            # A turn's writes are bounded (what may touch rows without bound leaves the loop first,
            # ``leave_loop``): their savepoints journal in memory, not in a temporary file each (ADR 0076).
            journals_in_memory(writer, True)
            writer.begin()
            begun = False
            try:
                begun = begin_writing(writer, wait=work.wrote)
            finally:
                if not begun:  # SQLAlchemy's transaction ends with SQLite's that did not begin
                    writer.rollback()
            if not begun:
                raise WouldWait
        except BaseException:
            self._writers.release()
            raise
        self._shared = SharedCommit(writer, work.loop)
        work.loop.call_soon(self._commit_shared)
        return self._shared

    def _commit_shared(self) -> None:
        """Commit the loop turn's shared transaction, if one is open, and give the turn back."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        assert self._writers is not None
        try:
            committed = shared.commit()
        finally:
            self._writers.release()
        if committed:
            self._committed(shared.written_through)

    @contextmanager
    def _write_connection(self, wait: bool) -> Iterator[Connection]:
        """Yield the connection to write on: on SQLite the kept one, once it is this thread's turn.

        SQLite writes one at a time, and makes the others poll with growing sleeps: this process's
        writers queue on a lock instead, in order, and only other processes meet the busy timeout
        (ADR 0016). Without ``wait``, the turn is taken only if it is free now (ADR 0055).
        """
        if self._writers is None:  # PostgreSQL's: the thread's (or slot's) own, brief if it must not wait
            held = self._writes if wait else self._brief_writes
            assert held is not None
            with held.connection() as connection:
                yield connection
            return
        if self._closed:  # a write after close: pooled
            with self._write_engine.connect() as connection:
                yield connection
            return
        if self._shared is not None and self._shared.loop_thread == threading.get_ident():
            self._commit_shared()  # a write on the loop outside a request's work: the turn's writes go first
        if not self._writers.acquire(blocking=wait):
            raise WouldWait
        try:
            writer = self._kept_writer()
            journals_in_memory(writer, False)  # a write off the loop may change rows without bound
            yield writer
        finally:
            self._writers.release()

    def _kept_writer(self) -> Connection:
        """SQLite's one connection for writes, connected on first use and again once closed."""
        if self._writer is None or self._writer.closed:
            self._writer = self._write_engine.connect()
        return self._writer

    @contextmanager
    def unwaiting(self) -> Iterator[_LoopWork]:
        """Within it, the first write transaction raises ``WouldWait`` rather than wait (ADR 0055).

        On SQLite and on a running event loop, its writes join the turn's shared commit (ADR 0061):
        the work's answer awaits ``committed()``.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        work = _LoopWork(loop if self._writers is not None else None)
        token = _unwaiting.set(work)
        try:
            yield work
        finally:
            _unwaiting.reset(token)

    async def cooperate(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)``, a request's work, on the running event loop (ADR 0066).

        On PostgreSQL, in a greenlet holding one of the loop's work slots: each wait for the server
        lets the loop serve other requests meanwhile. SQLite does not wait on a network, and a
        store told not to ``interleave`` (one of several processes, which overlap each other's
        waits) does not pay for the greenlet: at once.
        """
        if not self._interleave:
            return function(*args)
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = Slots(loop)
        return await slots.run(function, *args)

    def leave_loop(self) -> None:
        """Within ``unwaiting`` and before a write committed, raise ``WouldWait`` (ADR 0055)."""
        work = _unwaiting.get()
        if work is not None and not work.wrote:
            raise WouldWait

    @contextmanager
    def read(self, *, one_statement: bool = False) -> Iterator[SqlTransaction]:
        """Open a read transaction: one snapshot for every query in it.

        ``one_statement``: on the connections of a lone statement, which begin none (ADR 0057).
        """
        work = _unwaiting.get()
        if work is not None and work.shared is not None and work.shared is self._shared:
            # After a write of this work not yet committed: read it, in the shared transaction.
            yield SqlTransaction(work.shared.connection)
            return
        if one_statement:
            with self._lone.connection() as connection, self._credential_carried(connection):
                # Begun by neither engine, a transaction would be bookkeeping alone (8 of 11 µs); a
                # statement sent through SQLAlchemy rather than the driver's cursor begins its own.
                try:
                    yield SqlTransaction(connection)
                finally:
                    if connection.in_transaction():
                        connection.rollback()
            answered(self.engine)  # no commit says that the database is back (ADR 0029): this does
            return
        self._settle_credential()
        with self._reads.connection() as connection:
            with connection.begin() if self._writes is None else begin_with(connection, _BEGIN_SNAPSHOT):
                yield SqlTransaction(connection)

    def credential(self, hash: str) -> Credential | None:
        """Return the token whose hash is ``hash`` with its user and roles, by one statement; or None.

        SQLite answers again from memory while nothing was committed, which a pragma tells (ADR
        0059); PostgreSQL, within ``checking_credentials``, answers from memory and checks later
        (ADR 0083).
        """
        if self._checked is not None:
            return self._checked.credential(hash)
        with self._lone.connection() as connection:
            return kept_credential(connection, hash)

    def checking_credentials(self, *, fresh: bool = False) -> AbstractContextManager[CredentialCheck]:
        """Within it, on PostgreSQL, ``credential`` may answer from memory, checked before the work is.

        See ``Store.checking_credentials`` and ``credentials.py`` (ADR 0083). SQLite answers from
        memory only while nothing was committed (ADR 0059), which it knows without a round trip:
        there, nothing is left to check.
        """
        return _NO_CHECK if self._checked is None else self._checked.checking(fresh=fresh)

    def _settle_credential(self) -> None:
        if self._checked is not None:
            self._checked.settle()

    def _credential_carried(self, connection: Connection) -> AbstractContextManager[None]:
        return _NOTHING if self._checked is None else self._checked.carried(connection)

    def in_use(self) -> int:
        """Return how many of the pool's connections are in use: checked out, less those held idle."""
        pool = self.engine.pool
        checked_out = pool.checkedout() if isinstance(pool, QueuePool) else 0
        writer = self._writer
        writer_idle = writer is not None and not writer.closed and not writer.in_transaction()
        return checked_out - sum(held.idle() for held in self._held) - writer_idle

    def close(self) -> None:
        """Stop the checkpoints, give back the connections held; then the engine may be disposed of."""
        if self._shared is not None and self._shared.loop_thread == threading.get_ident():
            self._commit_shared()
        if self._checkpoints is not None:
            self._checkpoints.close()
        for held in self._held:
            held.close()
        self._closed = True
        if self._writers is not None:
            with self._writers:  # after the write under way, if one is
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
