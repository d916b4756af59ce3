"""Fill a scimhub database fast, with exactly the rows the server itself would store.

Users go through the real use case, ``Users.create``, once per user, but on a
recording connection: the store's own code builds every row (``users``,
``user_emails``, ``user_roles``: whatever it writes today), and the recorder
sends each table's rows as one ``executemany`` per chunk of 5,000 users instead
of one round trip per row; their events go through the store's real event log.
Groups are few, so they go through ``Groups.create`` and ``Groups.update``
unchanged, on real transactions: a group of 100,000 members is then exactly
what a ``POST /Groups`` followed by PATCHes adding 5,000 members each stores.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from scimhub.directory.actors import Actor
from scimhub.directory.groups import GroupEdit, Groups
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.users import User
from scimhub.query.schema import GROUP, USER
from scimhub.scim.values import read_resource
from scimhub.store.sql.prepared import driver_cursor, send_ahead
from scimhub.store.sql.store import SqlStore, SqlTransaction
from scimhub.wiring import now_micros

CHUNK = 5_000
"""Users per transaction and per ``executemany``."""

_CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user_name(tag: str, index: int) -> str:
    """Return the userName (and work email) of the ``index``-th user of a batch."""
    return f"{tag}.user{index:07d}@contoso.example"


def user_body(tag: str, index: int) -> dict[str, Any]:
    """Return the body Entra sends to create a user (shape of docs/entra-client.md)."""
    name, number = user_name(tag, index), f"{index:07d}"  # one form of the number: bulk.py substitutes it
    return {
        "schemas": [_CORE_USER, _ENTERPRISE_USER],
        "externalId": f"{tag}-{number}-0a21f0f2-8d2a-4f8e-bf98",
        "userName": name,
        "active": True,
        "displayName": f"Bench User {number}",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Bench User {number}", "familyName": f"User {number}", "givenName": "Bench"},
        "roles": [],
    }


def group_body(display_name: str) -> dict[str, Any]:
    """Return the body Entra sends to create a group, before it adds members."""
    return {"schemas": [_CORE_GROUP], "displayName": display_name, "members": []}


class _RecordingConnection:
    """Stand in for a Connection; keep each INSERT's values instead of sending them.

    The user store runs its writes through ``store/sql/prepared.py`` on the driver's cursor, so
    this is a connection whose driver connection records: each statement's SQL (compiled for the
    real dialect) and its values. Anything but an INSERT is refused: seeding through it would
    then no longer store what the server stores, and must be rethought.
    """

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect
        self.rows: dict[str, list[Any]] = {}
        self.info: dict[str, Any] = {}
        """Where the writes that wait for the next statement wait (``prepared.ahead``, ADR 0063)."""
        self.autocommit = False
        """Not a connection whose statements libpq sends at once (ADR 0074): one whose cursor records them."""

    @property
    def connection(self) -> _RecordingConnection:
        return self

    @property
    def driver_connection(self) -> _RecordingConnection:
        return self

    def cursor(self) -> _RecordingConnection:
        return self

    def execute(self, sql: str, values: Any) -> None:
        self.executemany(sql, [values])

    def executemany(self, sql: str, values: list[Any]) -> None:
        if not sql.lstrip().upper().startswith("INSERT"):
            raise TypeError(f"seeding expects INSERTs from the user store, not {sql}")
        self.rows.setdefault(sql, []).extend(values)

    def fetchall(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass

    def flush(self, connection: Connection) -> int:
        """Send the recorded rows, one executemany per statement, parents first; return the row count."""
        send_ahead(self)  # type: ignore[arg-type]  # on PostgreSQL the last rows still wait: recorded now
        cursor = driver_cursor(connection.connection.driver_connection)  # PostgreSQL's takes ``$1``
        count = 0
        for sql, values in self.rows.items():  # insertion order: users before their children
            cursor.executemany(sql, values)
            count += len(values)
        cursor.close()
        self.rows.clear()
        return count


class _OneTransaction:
    """A store whose every write transaction is the same, already open, one."""

    def __init__(self, transaction: SqlTransaction) -> None:
        self._transaction = transaction

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        yield self._transaction


def _progress(what: str, done: int, total: int, started: float) -> None:
    end = "\n" if done == total else ""
    print(
        f"\r  seeding {what}: {done:,}/{total:,} ({time.monotonic() - started:.1f} s)",
        end=end,
        file=sys.stderr,
    )
    sys.stderr.flush()


def seed_users(store: SqlStore, actor: Actor, tag: str, count: int) -> list[User]:
    """Create ``count`` users as ``Users.create`` would, ``CHUNK`` users per transaction; return them.

    Each ``Users.create`` of a chunk runs on one recording transaction whose rows
    go out as one executemany per table, except the events: they go to the real
    transaction's event log, which writes them the way the store does at commit.
    """
    created: list[User] = []
    started = time.monotonic()
    for start in range(0, count, CHUNK):
        with store.transaction() as real:
            recorder = _RecordingConnection(store.engine.dialect)
            recording = SqlTransaction(recorder)  # type: ignore[arg-type]
            recording.events = real.events
            users = Users(_OneTransaction(recording), now_micros)  # type: ignore[arg-type]
            for index in range(start, min(start + CHUNK, count)):
                resource = read_resource(USER, user_body(tag, index))
                created.append(users.create(actor, UserEdit(resource.doc, resource.password)))
            recorder.flush(real.connection)
        _progress("users", len(created), count, started)
    return created


def _adding(member_ids: Sequence[str]) -> Callable[[Group], GroupEdit]:
    """Return the edit of a PATCH that adds ``member_ids`` and changes nothing else."""
    change = MemberChange(add=tuple(Member(member_id) for member_id in member_ids))
    return lambda stored: GroupEdit(stored.doc, change)


def seed_group(groups: Groups, actor: Actor, display_name: str, member_ids: Sequence[str]) -> Group:
    """Create a group, then add its members ``CHUNK`` at a time, through the use cases a POST and PATCHes run.

    Chunks, as a client adding members in batches would (and so that the progress
    line moves).
    """
    started = time.monotonic()
    resource = read_resource(GROUP, group_body(display_name))
    group = groups.create(actor, GroupEdit(resource.doc))
    for start in range(0, len(member_ids), CHUNK):
        groups.update(actor, group.id, _adding(member_ids[start : start + CHUNK]))
        _progress(f"group '{display_name}'", min(start + CHUNK, len(member_ids)), len(member_ids), started)
    return group
