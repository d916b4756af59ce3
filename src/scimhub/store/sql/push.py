"""The DataHub push's rows on SQL: its state and lease, what it pushed, and lookups by URN (ADR 0013).

The lease is a row, not a session lock, so it works the same on SQLite and
PostgreSQL and survives no crash: a pusher that dies stops renewing it, and
once ``lease_until`` has passed the next process to ask takes it over. Taking
it is a read-then-write of one row inside a write transaction: ``BEGIN
IMMEDIATE`` serializes it on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scimhub.domain.groups import Group
from scimhub.domain.users import User
from scimhub.store.records import PushedEntity, PushState
from scimhub.store.sql.batches import chunks
from scimhub.store.sql.tables import (
    datahub_push_state,
    datahub_pushed_entities,
    datahub_pushed_memberships,
    groups,
    users,
)


def _user(row: Row[Any]) -> User:
    return User(row.id, row.doc, row.version, row.created, row.last_modified, row.password_hash, row.urn)


def _group(row: Row[Any]) -> Group:
    return Group(row.id, row.doc, row.version, row.created, row.last_modified, row.urn)


def _state(row: Row[Any]) -> PushState:
    return PushState(
        row.name,
        row.last_seq,
        row.leader,
        row.lease_until,
        row.last_success,
        row.last_error,
        row.last_error_at,
        row.failures,
        row.halted,
    )


class SqlPushRows:
    """``datahub_push_state``, ``datahub_pushed_entities`` and ``datahub_pushed_memberships``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def state(self, name: str) -> PushState | None:
        """Return the push's state, or None before it ever ran."""
        row = self._connection.execute(
            select(datahub_push_state).where(datahub_push_state.c.name == name)
        ).first()
        return _state(row) if row else None

    def lease(self, name: str, holder: str, now: int, until: int) -> PushState | None:
        """Take or renew the lease for ``holder`` until ``until``; return None while another holds it."""
        self._connection.execute(
            self._insert(datahub_push_state)
            .values(name=name, last_seq=0, failures=0, halted=False)
            .on_conflict_do_nothing()
        )
        row = self._connection.execute(
            select(datahub_push_state).where(datahub_push_state.c.name == name).with_for_update()
        ).one()
        held_by_another = row.leader not in (None, holder) and (row.lease_until or 0) > now
        if held_by_another:
            return None
        self._connection.execute(
            update(datahub_push_state)
            .where(datahub_push_state.c.name == name)
            .values(leader=holder, lease_until=until)
        )
        return self.state(name)

    def _update_as(self, name: str, holder: str, **values: Any) -> bool:
        table = datahub_push_state
        statement = update(table).where(table.c.name == name, table.c.leader == holder).values(**values)
        return self._connection.execute(statement).rowcount > 0

    def release(self, name: str, holder: str) -> None:
        """Give the lease up, if ``holder`` has it."""
        self._update_as(name, holder, leader=None, lease_until=None)

    def advance(self, name: str, holder: str, through: int, now: int) -> bool:
        """Move the checkpoint to ``through`` and record a success; tell whether ``holder`` still leads."""
        return self._update_as(name, holder, last_seq=through, last_success=now, failures=0, halted=False)

    def fail(self, name: str, holder: str, error: str, halted: bool, now: int) -> bool:
        """Record a failed push; a halting one also gives the lease up. Tell whether ``holder`` led."""
        values: dict[str, Any] = {
            "last_error": error,
            "last_error_at": now,
            "failures": datahub_push_state.c.failures + 1,
            "halted": halted,
        }
        if halted:
            values |= {"leader": None, "lease_until": None}
        return self._update_as(name, holder, **values)

    def users_by_urn(self, urns: Sequence[str]) -> dict[str, User]:
        """Return the stored user of each of ``urns`` that names one (``users.urn`` is unique, ADR 0008)."""
        return {urn: _user(row) for urn, row in self._by_urn(users, urns).items()}

    def groups_by_urn(self, urns: Sequence[str]) -> dict[str, Group]:
        """Return the stored group of each of ``urns`` that names one (``groups.urn`` is unique, ADR 0037)."""
        return {urn: _group(row) for urn, row in self._by_urn(groups, urns).items()}

    def _by_urn(self, table: Table, urns: Sequence[str]) -> dict[str, Row[Any]]:
        """Return the row of ``table`` whose stored URN is each of ``urns``, where there is one."""
        found: dict[str, Row[Any]] = {}
        for chunk in chunks(list(dict.fromkeys(urns))):
            for row in self._connection.execute(select(table).where(table.c.urn.in_(chunk))):
                found[row.urn] = row
        return found

    def users_after(self, id: str, limit: int) -> list[User]:
        """Return the first ``limit`` users whose id sorts after ``id``, by id."""
        statement = select(users).where(users.c.id > id).order_by(users.c.id).limit(limit)
        return [_user(row) for row in self._connection.execute(statement)]

    def groups_after(self, id: str, limit: int) -> list[Group]:
        """Return the first ``limit`` groups whose id sorts after ``id``, by id."""
        statement = select(groups).where(groups.c.id > id).order_by(groups.c.id).limit(limit)
        return [_group(row) for row in self._connection.execute(statement)]

    def pushed(self, urns: Sequence[str]) -> dict[str, str]:
        """Return the SCIM id each of ``urns`` had when last pushed, for those pushed and not deleted."""
        table = datahub_pushed_entities
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(urns))):
            statement = select(table.c.urn, table.c.scim_id).where(table.c.urn.in_(chunk))
            rows = self._connection.execute(statement)
            found.update((urn, scim_id) for urn, scim_id in rows)
        return found

    def pushed_as(self, scim_ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the URNs pushed for each of ``scim_ids`` and not deleted since."""
        table = datahub_pushed_entities
        found: dict[str, list[str]] = {}
        for chunk in chunks(list(dict.fromkeys(scim_ids))):
            rows = self._connection.execute(
                select(table.c.scim_id, table.c.urn).where(table.c.scim_id.in_(chunk)).order_by(table.c.urn)
            )
            for scim_id, urn in rows:
                found.setdefault(scim_id, []).append(urn)
        return found

    def pushed_members(self, group_urns: Sequence[str]) -> list[str]:
        """Return the users whose pushed ``groupMembership`` names any of ``group_urns``, by URN."""
        table = datahub_pushed_memberships
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(group_urns))):
            found.update(
                self._connection.execute(
                    select(table.c.user_urn).where(table.c.group_urn.in_(chunk))
                ).scalars()
            )
        return sorted(found)

    def pushed_after(self, urn: str, limit: int) -> list[PushedEntity]:
        """Return the first ``limit`` pushed entities whose URN sorts after ``urn``, by URN."""
        table = datahub_pushed_entities
        rows = self._connection.execute(
            select(table.c.urn, table.c.entity_type, table.c.scim_id)
            .where(table.c.urn > urn)
            .order_by(table.c.urn)
            .limit(limit)
        )
        return [PushedEntity(*row) for row in rows]

    def record(self, upserted: Sequence[PushedEntity], removed: Sequence[str], now: int) -> None:
        """Record entities written into DataHub (with each user's groups) and URNs deleted there."""
        entities, memberships = datahub_pushed_entities, datahub_pushed_memberships
        for urns in chunks(list(removed)):
            self._connection.execute(
                delete(memberships).where(
                    memberships.c.user_urn.in_(urns) | memberships.c.group_urn.in_(urns)
                )
            )
            self._connection.execute(delete(entities).where(entities.c.urn.in_(urns)))
        for chunk in chunks(list(upserted)):
            rows = [
                {"urn": e.urn, "entity_type": e.entity_type, "scim_id": e.scim_id, "pushed_at": now}
                for e in chunk
            ]
            statement = self._insert(entities).values(rows)
            excluded = statement.excluded
            self._connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[entities.c.urn],
                    set_={"entity_type": excluded.entity_type, "scim_id": excluded.scim_id, "pushed_at": now},
                )
            )
            user_urns = [e.urn for e in chunk if e.entity_type == "corpuser"]
            if user_urns:
                self._connection.execute(delete(memberships).where(memberships.c.user_urn.in_(user_urns)))
            pairs = [
                {"user_urn": e.urn, "group_urn": g}
                for e in chunk
                if e.entity_type == "corpuser"
                for g in e.groups
            ]
            if pairs:
                self._connection.execute(self._insert(memberships).values(pairs).on_conflict_do_nothing())
