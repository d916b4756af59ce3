"""Console session and password-reset rows (ADR 0030, ADR 0033): hashes only, never a secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from scimhub.store.records import ResetRecord, SessionRecord
from scimhub.store.sql.tables import console_sessions, password_resets


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
