"""Token and server-secret rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from scimhub.domain.tokens import Revoked
from scimhub.errors import Conflict
from scimhub.store.records import Credential, Revocation, TokenRecord
from scimhub.store.sql.events import hold_commit_order
from scimhub.store.sql.prepared import rows
from scimhub.store.sql.roles import reached_groups
from scimhub.store.sql.tables import (
    group_roles,
    revoked_tokens,
    server_secrets,
    tokens,
    user_roles,
    users,
    violated,
)

_HASH = tokens.c.hash == bindparam("hash")
_NO_USER = [null()] * 7
_REACHED = reached_groups(lambda member: member == select(tokens.c.actor_id).where(_HASH).scalar_subquery())
"""The groups the token's user reaches, nested ones included (ADR 0038)."""
CREDENTIAL: CompoundSelect = union_all(
    select(
        tokens.c.id,
        tokens.c.expires,
        tokens.c.last_used,
        users.c.id.label("user_id"),
        users.c.urn,
        users.c.user_name,
        users.c.active,
        null().label("role"),
    )
    .join(users, users.c.id == tokens.c.actor_id)
    .where(_HASH),
    select(*_NO_USER, user_roles.c.role)
    .select_from(tokens)
    .join(user_roles, user_roles.c.user_id == tokens.c.actor_id)
    .where(_HASH),
    select(*_NO_USER, group_roles.c.role)
    .select_from(_REACHED)
    .join(group_roles, group_roles.c.group_id == _REACHED.c.group_id),
)
"""Every request's authentication, one statement built once (ADR 0040): the token and its user
(the one row with a token id), then one row per role, direct or through a group it reaches. Each part finds
the token by its unique hash, so each is a few index lookups on either engine. Its values: ``{"hash": …}``;
``credential_of`` reads its rows."""

_ROWS = CREDENTIAL.subquery("credential")
_ROLES = func.coalesce(
    func.array_agg(cast(_ROWS.c.role, Text)).filter(_ROWS.c.id.is_(None)), literal_column("'{}'::text[]")
)
_EXPECTED_ROLES = bindparam("roles", type_=ARRAY(Text))
CREDENTIAL_HOLDS: Select[Any] = select(
    func.scimhub_credential_holds(
        and_(
            func.bool_or(
                and_(
                    _ROWS.c.id == bindparam("token_id"),
                    _ROWS.c.expires.is_not_distinct_from(bindparam("expires", type_=tokens.c.expires.type)),
                    _ROWS.c.user_id == bindparam("user_id"),
                    _ROWS.c.urn == bindparam("urn"),
                    _ROWS.c.active == bindparam("active"),
                )
            ),
            _ROLES.op("@>")(_EXPECTED_ROLES),
            _ROLES.op("<@")(_EXPECTED_ROLES),
        )
    )
).select_from(_ROWS)
"""PostgreSQL: ``CREDENTIAL``'s rows compared, in the server, with a credential answered from memory
(ADR 0084). ``scimhub_credential_holds`` (a function of the migrations) raises SQLSTATE ``CREDENTIAL_GONE``
unless they grant what it did, as ``Credential.grants_as`` says: the same token, expiry, user and state,
the same set of roles. Its values: ``holding``'s."""
CREDENTIAL_GONE = "SH401"
"""The SQLSTATE ``CREDENTIAL_HOLDS`` fails with, which aborts the whole transaction it runs in."""


def holding(hash: str, credential: Credential) -> dict[str, Any]:
    """Return ``CREDENTIAL_HOLDS``'s values for ``credential``, found by ``hash``."""
    return {
        "hash": hash,
        "token_id": credential.token_id,
        "expires": credential.expires,
        "user_id": credential.user_id,
        "urn": credential.urn,
        "active": credential.active,
        "roles": sorted(set(credential.roles)),
    }


KEPT_CREDENTIALS = 1_000
"""Credentials a SQLite connection keeps between changes of the database (ADR 0059)."""


@dataclass
class _Kept:
    """The credentials read on one SQLite connection while the database stood at ``version``."""

    version: tuple[int, int]
    credentials: dict[str, Credential] = field(default_factory=dict)


def kept_credential(connection: Connection, hash: str) -> Credential | None:
    """On SQLite: ``read_credential``, answered again from memory while nothing was committed (ADR 0059).

    ``PRAGMA data_version`` moves whenever another connection, of this process or another, commits
    to the database; ``total_changes`` counts the rows this connection changed itself. While both
    stand still, nothing a credential is made of (the token, its user, a role, a membership) can
    have changed, and a credential read since answers as the statement would. Both are read before
    the statement, so a kept credential is never older than the version it is kept under. A
    revocation, suspension or role change anywhere drops every kept credential at the next request.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    if driver.in_transaction:
        # What an open transaction sees may be rolled back, and a rollback moves neither number
        # (a store whose one connection both writes and reads, such as an in-memory database's).
        return read_credential(connection, hash)
    version = (driver.execute("PRAGMA data_version").fetchone()[0], driver.total_changes)
    kept: _Kept | None = connection.info.get(_Kept)
    if kept is None or kept.version != version or len(kept.credentials) >= KEPT_CREDENTIALS:
        kept = connection.info[_Kept] = _Kept(version)
    found = kept.credentials.get(hash)
    if found is None:
        found = read_credential(connection, hash)
        if found is not None:  # an unknown hash is read each time: nobody fills this with guesses
            kept.credentials[hash] = found
    return found


def read_credential(connection: Connection, hash: str) -> Credential | None:
    """Return the token whose hash is ``hash``, its user and the user's roles, by one statement; or None."""
    return credential_of(rows(connection, CREDENTIAL, {"hash": hash}))


def credential_of(fetched: list[Any]) -> Credential | None:
    """Return the credential that ``CREDENTIAL``'s rows say, or None when they hold no token."""
    found: Any = None
    roles = []
    for row in fetched:
        if row[0] is None:
            roles.append(row[7])
        else:
            found = row
    if found is None:
        return None
    token_id, expires, last_used, user_id, urn, user_name, active = (found[i] for i in range(7))
    return Credential(token_id, expires, last_used, user_id, urn, user_name, bool(active), tuple(roles))


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
        """Store a token record.

        :raises Conflict: When its user or its owner was deleted since the caller read them (on
            PostgreSQL, by another transaction that committed meanwhile): a foreign key fails.
        """
        try:
            self._connection.execute(insert(tokens), token.__dict__)
        except IntegrityError as error:
            constraint = violated(error)
            if constraint.startswith("fk_tokens_") or "FOREIGN KEY" in constraint:
                raise Conflict("the token's user was deleted meanwhile; no token was made") from None
            raise

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
        """Delete a token, remembering by id only that it was revoked at ``now``; tell whether it existed.

        On PostgreSQL it then takes the commit-order lock, as every other change to a credential does
        with its events (ADR 0086), and as they do, last: nothing of its transaction may follow it,
        or that could wait for a row's lock while every other writer waits for this one.
        """
        existed = self._forget(tokens.c.id == id, Revoked.BY_REQUEST, now) > 0
        hold_commit_order(self._connection)
        return existed

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
