"""PostgreSQL's credentials answered from memory, checked with the first read or the commit (ADR 0083, 0084).

A lookup on PostgreSQL took two round trips: the credential's statement, then the lookup's. Each
costs the server a wait and a wake-up and about 49 µs of CPU, where a second statement in the same
round trip costs 10–18 µs. Within ``checking``, a credential read before for the same token is
answered again, and its statement goes out first in the round trip of the work's first lone
statement (``check_ahead``), or alone before any other use of the database and when the work ends.
Nothing the work read is handed back until the credential read afresh was compared with the one
answered; a write transaction compares them in the server as it commits (``asserted``, ADR 0084),
and fails whole when they differ: nothing is written. When it no longer grants the same
(``Credential.grants_as``: a revocation, an expiry moved, a suspension, a role),
``CredentialChanged`` is raised there and the check says ``unconfirmed``: the caller drops what the
work made and runs it again, reading first.
So it does when the check at the work's end could not be read (the database away): the run again
answers as any request does then, or as it should once the database is back.

What is kept is never trusted without that read: it only saves the round trip, never the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from scimhub.errors import ScimhubError
from scimhub.store.contract import CredentialChanged
from scimhub.store.records import Credential
from scimhub.store.sql.events import COMMIT_ORDER
from scimhub.store.sql.prepared import at_commit, before_commit, check_ahead
from scimhub.store.sql.tokens import (
    CREDENTIAL,
    CREDENTIAL_GONE,
    CREDENTIAL_HOLDS,
    KEPT_CREDENTIALS,
    credential_of,
    holding,
    read_credential,
)


@dataclass
class _Check:
    """One request's credential check (``checking``)."""

    of: CheckedCredentials
    """Whose check it is: another store's (a test's second process) leaves it alone."""
    fresh: bool = False
    """Whether every credential is read: none is answered from memory, and each write is checked apart
    from its own rows (``asserted``)."""
    held: ExitStack = field(default_factory=ExitStack)
    """What the check holds until it ends: in a ``fresh`` one, the connection ``apart``."""
    pending: tuple[str, Credential] | None = None
    """The hash and the credential answered from memory, until read again."""
    answered: tuple[str, Credential] | None = None
    """The first credential answered, from memory or read: every write commits only if it still holds."""
    unconfirmed: bool = False
    """Whether the credential read again no longer granted what the one answered did, or could not be
    read again when the work ended."""
    apart: Connection | None = None
    """In a ``fresh`` check, the connection its writes' credential is read on (``asserted``), taken from
    the pool with the first credential read."""


_check: ContextVar[_Check | None] = ContextVar("scimhub_credential_check", default=None)
_NOTHING: AbstractContextManager[None] = nullcontext()


class CheckedCredentials:
    """The credentials one process read last, by token hash, answered again within ``checking``.

    ``connect`` gives the connection a credential is read on: the caller's own, for lone statements.
    ``apart`` gives another, never one a transaction of the caller's is open on (``asserted``).
    """

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Connection]],
        apart: Callable[[], AbstractContextManager[Connection]],
    ) -> None:
        self._connect, self._apart = connect, apart
        self._kept: dict[str, Credential] = {}

    @contextmanager
    def checking(self, *, fresh: bool = False) -> Iterator[_Check]:
        """Within it ``credential`` may answer from memory; a check still pending is settled when it ends.

        ``fresh``: it never answers from memory, and every write checks what it read apart from its own
        rows (``asserted``): the run again after a refused check, whose write may change its own credential.
        It takes the connection for that from the pool with the credential, before its work holds any
        lock: taken while the commit-order lock is held, it could wait for a connection that another
        work, waiting for that lock, holds (found by an adversarial run with more core threads than
        half the pool).

        Not when it ends by an exception: then the work made no answer to drop. What is found then
        (a change; the database away) is told by ``unconfirmed`` alone, never raised.
        """
        with ExitStack() as held:
            check = _Check(self, fresh, held)
            token = _check.set(check)
            try:
                yield check
                try:
                    self.settle()
                except (CredentialChanged, ScimhubError):
                    check.unconfirmed = True
            finally:
                _check.reset(token)

    def credential(self, hash: str) -> Credential | None:
        """Return the credential of ``hash`` or None: within ``checking`` maybe from memory, to be checked."""
        check = self._check()
        if check is not None:
            if check.pending is None and not check.fresh:
                kept = self._kept.get(hash)
                if kept is not None:
                    check.pending = (hash, kept)
                    check.answered = check.answered or check.pending
                    return kept
            else:
                self.settle()  # a second credential in one work: the first one's check is due
            if check.fresh and check.apart is None:
                check.apart = check.held.enter_context(self._apart())
        with self._connect() as connection:
            found = read_credential(connection, hash)
        self._keep(hash, found)
        if check is not None and check.answered is None and found is not None:
            check.answered = (hash, found)
        return found

    def carried(self, connection: Connection) -> AbstractContextManager[None]:
        """Within it, a pending check goes out first in the round trip of ``connection``'s next statement.

        If no statement went out, it stays pending (``settle``).
        """
        check = self._check()
        if check is None or check.pending is None:
            return _NOTHING
        return self._carried(connection, check, check.pending[0])

    @contextmanager
    def _carried(self, connection: Connection, check: _Check, hash: str) -> Iterator[None]:
        withdraw = check_ahead(connection, CREDENTIAL, {"hash": hash}, partial(self._compare_rows, check))
        try:
            yield
        finally:
            withdraw()

    def asserted(self, connection: Connection) -> None:
        """Have the write transaction begun on ``connection`` check the credential answered when it commits.

        ``CREDENTIAL_HOLDS`` goes out last before the ``COMMIT``, in its round trip, after the
        commit-order lock (``at_commit``): when the credential no longer grants what the one
        answered did, it fails, the transaction is rolled back whole, and ``CredentialChanged`` is
        raised (ADR 0084). So it does for every write of the work, whether the credential came from
        memory or not, however long the write waited for a lock.

        A write that changes its own credential (a userName, a role or the state of one's own) fails
        that check on its own rows. In a ``fresh`` check the credential is read instead on another
        connection, once every statement of the transaction ran and before its ``COMMIT``
        (``before_commit``, ADR 0086). The transaction takes the commit-order lock first, if its events
        did not (a token issued appends none). With it held, as every change to a credential takes it
        to commit, no change can commit between that read and this commit; and the transaction's own
        rows are not seen.
        """
        check = self._check()
        if check is None or check.answered is None:
            return
        answered = check.answered
        if check.fresh:
            before_commit(connection, [(COMMIT_ORDER, None)], partial(self._confirm_apart, check, answered))
            return
        at_commit(
            connection,
            [(CREDENTIAL_HOLDS, holding(*answered))],
            partial(self._refused, check, answered),
            partial(self._held, check, answered),
        )

    def _confirm_apart(self, check: _Check, answered: tuple[str, Credential]) -> None:
        hash, credential = answered
        assert check.apart is not None  # taken when the fresh check began
        found = read_credential(check.apart, hash)
        self._keep(hash, found)
        if found is None or not found.grants_as(credential):
            check.unconfirmed = True
            raise CredentialChanged

    def _held(self, check: _Check, answered: tuple[str, Credential], _: list[Any]) -> None:
        if check.pending is answered:
            check.pending = None

    def _refused(
        self, check: _Check, answered: tuple[str, Credential], error: DBAPIError
    ) -> BaseException | None:
        if getattr(error.orig, "sqlstate", None) != CREDENTIAL_GONE:
            return None
        if check.pending is answered:
            check.pending = None
        self._kept.pop(answered[0], None)
        check.unconfirmed = True
        return CredentialChanged()

    def settle(self) -> None:
        """Read a pending check's credential now, alone.

        :raises CredentialChanged: When it no longer grants what the one answered did.
        """
        check = self._check()
        if check is None or check.pending is None:
            return
        with self._connect() as connection:
            fresh = read_credential(connection, check.pending[0])
        self._compare(check, fresh)

    def _check(self) -> _Check | None:
        check = _check.get()
        return check if check is not None and check.of is self else None

    def _compare_rows(self, check: _Check, fetched: list[Any]) -> None:
        self._compare(check, credential_of(fetched))

    def _compare(self, check: _Check, fresh: Credential | None) -> None:
        if check.pending is None:  # settled alone meanwhile, while this read was queued with a statement
            return
        hash, answered = check.pending
        check.pending = None
        self._keep(hash, fresh)
        if fresh is None or not fresh.grants_as(answered):
            check.unconfirmed = True
            raise CredentialChanged

    def _keep(self, hash: str, found: Credential | None) -> None:
        if found is None:  # an unknown hash is never kept: nobody fills this with guesses
            self._kept.pop(hash, None)
            return
        if len(self._kept) >= KEPT_CREDENTIALS and hash not in self._kept:
            self._kept.clear()
        self._kept[hash] = found
