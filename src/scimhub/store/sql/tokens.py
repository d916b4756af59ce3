"""Token and server-secret rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from scimhub.domain.tokens import Revoked
from scimhub.store.contract import Revocation, TokenRecord
from scimhub.store.sql.tables import revoked_tokens, server_secrets, tokens

_BY_HASH = select(tokens).where(tokens.c.hash == bindparam("hash"))
"""Every request's lookup, built once (``store/sql/batches.py``)."""


def _record(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        row.id,
        row.hash,
        row.name,
        row.description,
        row.actor_id,
        row.owner_id,
        row.created,
        row.expires,
        row.last_used,
    )


class SqlTokenRows:
    """Personal access tokens, stored as salted hashes only."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def insert(self, token: TokenRecord) -> None:
        """Store a token record."""
        self._connection.execute(insert(tokens), token.__dict__)

    def find(self, hash: str) -> TokenRecord | None:
        """Return the token whose hash is ``hash``, or None."""
        row = self._connection.execute(_BY_HASH, {"hash": hash}).first()
        return _record(row) if row else None

    def get(self, id: str) -> TokenRecord | None:
        """Return the token with this id, or None."""
        row = self._connection.execute(select(tokens).where(tokens.c.id == id)).first()
        return _record(row) if row else None

    def list(self, actor_id: str | None = None) -> list[TokenRecord]:
        """Return all tokens (or one actor's), newest first."""
        statement = select(tokens).order_by(tokens.c.created.desc(), tokens.c.id)
        if actor_id is not None:
            statement = statement.where(tokens.c.actor_id == actor_id)
        return [_record(row) for row in self._connection.execute(statement)]

    def revoke(self, id: str, now: int) -> bool:
        """Delete a token, remembering by id only that it was revoked at ``now``; tell whether it existed."""
        return self._forget(tokens.c.id == id, Revoked.BY_REQUEST, now) > 0

    def revoke_all_of(self, actor_id: str, now: int) -> None:
        """Delete every token acting as ``actor_id`` (being deleted) and remember why, by id only."""
        self._forget(tokens.c.actor_id == actor_id, Revoked.USER_DELETED, now)

    def revocation(self, id: str) -> Revocation | None:
        """Return why and when the token ``id`` was revoked, or None when no revocation is remembered."""
        row = self._connection.execute(select(revoked_tokens).where(revoked_tokens.c.id == id)).first()
        return Revocation(row.id, row.actor_id, Revoked(row.reason), row.revoked) if row else None

    def _forget(self, which: ColumnElement[bool], reason: Revoked, now: int) -> int:
        """Record the revocation of the tokens ``which`` selects, then delete them; return how many."""
        chosen = select(tokens.c.id, tokens.c.actor_id, literal(reason.value), literal(now)).where(which)
        columns = ["id", "actor_id", "reason", "revoked"]
        self._connection.execute(insert(revoked_tokens).from_select(columns, chosen))
        return self._connection.execute(delete(tokens).where(which)).rowcount

    def touch(self, id: str, now: int) -> None:
        """Record that the token was used at ``now``."""
        self._connection.execute(update(tokens).where(tokens.c.id == id).values(last_used=now))


class SqlSecretRows:
    """Secrets generated once, shared by every process through the database."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get_or_create(self, name: str, value: str) -> str:
        """Return the stored secret ``name``, storing ``value`` first if there is none."""
        stored = self._connection.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar()
        if stored is not None:
            return str(stored)
        try:
            with self._connection.begin_nested():
                self._connection.execute(insert(server_secrets).values(name=name, value=value))
        except IntegrityError:  # another process stored it first: theirs wins everywhere
            return str(
                self._connection.execute(
                    select(server_secrets.c.value).where(server_secrets.c.name == name)
                ).scalar_one()
            )
        return value
