"""Console session, password-reset and sign-in failure rows (ADR 0030, ADR 0033, ADR 0048).

Hashes and digests only, never a secret: a session's sealed token is useless without the pad
its browser holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scimhub.store.records import FailureRecord, ResetRecord, Sealed, SessionRecord
from scimhub.store.sql.tables import console_sessions, password_resets, sign_in_failures


def _session(row: Row[Any]) -> SessionRecord:
    return SessionRecord(row.hash, row.user_id, row.password_mark, row.created, row.last_seen)


def _reset(row: Row[Any]) -> ResetRecord:
    return ResetRecord(row.hash, row.user_id, row.created_by, row.created, row.expires)


class SqlSessionRows:
    """Console sessions."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def insert(self, session: SessionRecord) -> None:
        """Store a new session."""
        self._connection.execute(insert(console_sessions), session.__dict__)

    def find(self, hash: str) -> SessionRecord | None:
        """Return the session whose hash is ``hash``, or None."""
        row = self._connection.execute(
            select(console_sessions).where(console_sessions.c.hash == hash)
        ).first()
        return _session(row) if row else None

    def touch(self, hash: str, now: int) -> None:
        """Record that the session was used at ``now``."""
        statement = update(console_sessions).where(console_sessions.c.hash == hash).values(last_seen=now)
        self._connection.execute(statement)

    def delete(self, hash: str) -> bool:
        """End a session; tell whether it existed."""
        statement = delete(console_sessions).where(console_sessions.c.hash == hash)
        return self._connection.execute(statement).rowcount > 0

    def delete_stale(self, created_before: int, seen_before: int) -> int:
        """End every session created before ``created_before`` or unused since ``seen_before``; count them."""
        stale = or_(console_sessions.c.created < created_before, console_sessions.c.last_seen < seen_before)
        return self._connection.execute(delete(console_sessions).where(stale)).rowcount

    def seal(self, hash: str, sealed: Sealed) -> bool:
        """Keep ``sealed`` on the session, replacing what it held; tell whether the session exists."""
        statement = (
            update(console_sessions)
            .where(console_sessions.c.hash == hash)
            .values(sealed=sealed.blob, sealed_at=sealed.at)
        )
        return self._connection.execute(statement).rowcount > 0

    def unseal(self, hash: str) -> Sealed | None:
        """Return what the session holds and clear it: the row is locked from the read to the clearing."""
        table = console_sessions
        row = self._connection.execute(
            select(table.c.sealed, table.c.sealed_at)
            .where(table.c.hash == hash, table.c.sealed.is_not(None))
            .with_for_update(key_share=True)
        ).first()
        if row is None:
            return None
        self._connection.execute(
            update(table).where(table.c.hash == hash).values(sealed=null(), sealed_at=null())
        )
        return Sealed(row.sealed, row.sealed_at)


class SqlResetRows:
    """One-time password-reset links."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def insert(self, reset: ResetRecord) -> None:
        """Store a new link."""
        self._connection.execute(insert(password_resets), reset.__dict__)

    def find(self, hash: str) -> ResetRecord | None:
        """Return the link whose hash is ``hash``, or None."""
        row = self._connection.execute(select(password_resets).where(password_resets.c.hash == hash)).first()
        return _reset(row) if row else None

    def take(self, hash: str) -> ResetRecord | None:
        """Delete the link and return it, in one statement: of two concurrent takers one gets it."""
        statement = (
            delete(password_resets).where(password_resets.c.hash == hash).returning(*password_resets.c)
        )
        row = self._connection.execute(statement).first()
        return _reset(row) if row else None

    def delete_for(self, user_id: str) -> int:
        """Delete every link of a user; count them."""
        statement = delete(password_resets).where(password_resets.c.user_id == user_id)
        return self._connection.execute(statement).rowcount


def _failure(row: Row[Any]) -> FailureRecord:
    times = tuple(int(t) for t in row.failures.split())
    return FailureRecord(row.digest, times, row.locked_until, row.expires)


_CLAIM = {
    name: dialect.insert(sign_in_failures)
    .on_conflict_do_update(
        index_elements=[sign_in_failures.c.digest],
        set_={"failures": sign_in_failures.c.failures},  # changes nothing; takes the row's lock
    )
    .returning(*sign_in_failures.c)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""Insert an empty record or lock the stored one, returning it: one statement, which no concurrent
insert can make fail (PostgreSQL's ``ON CONFLICT`` either inserts or locks and updates)."""


class SqlFailureRows:
    """Recent sign-in failures, one row per key digest."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def locked_until(self, digests: Sequence[str]) -> int:
        """Return the latest ``locked_until`` among ``digests``; 0 when none is stored."""
        statement = select(func.max(sign_in_failures.c.locked_until)).where(
            sign_in_failures.c.digest.in_(digests)
        )
        return int(self._connection.execute(statement).scalar() or 0)

    def claim(self, digest: str, now: int) -> FailureRecord:
        """Return the record of ``digest`` (stored empty if there was none), locked until the end."""
        empty = {"digest": digest, "failures": "", "locked_until": 0, "expires": now}
        row = self._connection.execute(_CLAIM[self._connection.dialect.name], empty).one()
        return _failure(row)

    def put(self, record: FailureRecord) -> None:
        """Overwrite the record claimed earlier in this transaction."""
        statement = (
            update(sign_in_failures)
            .where(sign_in_failures.c.digest == record.digest)
            .values(
                failures=" ".join(str(t) for t in record.failures),
                locked_until=record.locked_until,
                expires=record.expires,
            )
        )
        self._connection.execute(statement)

    def forget(self, digest: str) -> None:
        """Delete the record of ``digest``, if any."""
        self._connection.execute(delete(sign_in_failures).where(sign_in_failures.c.digest == digest))

    def prune(self, now: int, batch: int) -> int:
        """Delete at most ``batch`` expired records, skipping those another transaction holds; count them."""
        table = sign_in_failures
        expired = (
            select(table.c.digest)
            .where(table.c.expires <= now)
            .limit(batch)
            .with_for_update(skip_locked=True)  # PostgreSQL: never wait, so never deadlock; SQLite ignores it
        )
        return self._connection.execute(delete(table).where(table.c.digest.in_(expired))).rowcount
