"""On SQLite, the writes the event loop runs in one turn share one transaction and its COMMIT (ADR 0061).

A create touches one page of each of the 17 b-trees it writes to (the user's table and its eight
indexes, the e-mails' three, the events' four, the events' counter), and its COMMIT copies each of
them into the WAL: about 130 µs of the 680 µs a create costs in-process. Within one turn of the
event loop, each write of a request's work (``SqlStore.unwaiting``) runs in a savepoint of one
SQLite transaction, opened by the first of them; a callback after the turn commits them all at
once. The pages they share (the tails of the tables and of the indexes by time or number) go to
the WAL once. A write that fails rolls back to its savepoint and leaves the others be. The
savepoints journal in memory, not in a temporary file each; what could change rows without bound
leaves the loop before it writes (ADR 0076).

No answer leaves before its commit: each work that ran a statement in the shared transaction
(``LoopWork.committed``) waits for it, a failed one too, since it saw the others' writes. If the
COMMIT fails, or an error undid the whole transaction, every one of them answers 503 and nothing
of any was written.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from scimhub.errors import ScimhubError, ServiceUnavailable
from scimhub.store.sql.engine import RETRY_COLLISION_SECONDS

if TYPE_CHECKING:
    from scimhub.store.sql.store import SqlTransaction

log = logging.getLogger("scimhub.store")

_SAVEPOINT = "scimhub_write"


class SharedCommit:
    """One SQLite write transaction that the event loop's writes of one turn join, each in a savepoint."""

    def __init__(self, connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Take ``connection``, on which the caller has just begun the transaction (``BEGIN IMMEDIATE``)."""
        self.connection = connection
        self.loop_thread = threading.get_ident()
        """The event loop's thread: the only one that joins it, and commits it."""
        driver = connection.connection.driver_connection
        assert driver is not None  # a live connection: the transaction was just begun on it
        self._driver = driver
        self.done: asyncio.Future[None] = loop.create_future()
        # Every member awaits it; should one be cancelled meanwhile, a failure is still "retrieved".
        self.done.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.written_through: int | None = None
        """The highest event ``seq`` its members wrote: what the commit listeners hear of."""
        self._undone: BaseException | None = None
        """The error that ended the whole transaction under a member (SQLite rolls back whole on a few)."""

    @contextmanager
    def member(self, make: Callable[[Connection], SqlTransaction]) -> Iterator[SqlTransaction]:
        """Run one write in a savepoint: released on success, rolled back to on any error (then raised)."""
        if self._undone is not None:
            raise self._failure()
        self._driver.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            tx = make(self.connection)
            yield tx
            tx.events.flush()
        except BaseException as error:
            self._roll_back_member(error)
            raise
        self._driver.execute(f"RELEASE {_SAVEPOINT}")
        written = tx.events.written_through
        if written is not None:
            self.written_through = max(written, self.written_through or written)

    def _roll_back_member(self, error: BaseException) -> None:
        if self._driver.in_transaction:
            try:
                self._driver.execute(f"ROLLBACK TO {_SAVEPOINT}")
                self._driver.execute(f"RELEASE {_SAVEPOINT}")
                return
            except Exception as failure:  # noqa: BLE001 - the transaction cannot go on: all of it fails
                error = failure
        self._undone = error

    def commit(self) -> bool:
        """Commit, or roll back whole and fail every member; return whether it committed. Never raises."""
        try:
            if self._undone is not None:
                raise self._undone
            self.connection.commit()
        except BaseException as error:  # noqa: BLE001 - told to every member, who answers 503
            log.error("a shared commit failed; the writes of all its requests are undone: %s", error)
            self._undone = error
            self._roll_back()
            self.done.set_exception(self._failure())
            return False
        self.done.set_result(None)
        return True

    def _roll_back(self) -> None:
        # A COMMIT that failed ends SQLAlchemy's transaction, not always SQLite's: both are ended.
        try:
            self.connection.rollback()
            if self._driver.in_transaction:
                self._driver.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - closed, the store connects anew for the next write
            log.exception("rolling back a failed shared commit failed; its connection is closed")
            self.connection.close()

    def _failure(self) -> ScimhubError:
        if isinstance(self._undone, ScimhubError):
            return self._undone
        return ServiceUnavailable(
            f"the database did not commit this request's write, which was undone; "
            f"retry in {RETRY_COLLISION_SECONDS} seconds",
            RETRY_COLLISION_SECONDS,
        )
