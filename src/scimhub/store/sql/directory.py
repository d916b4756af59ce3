"""Users, groups and membership rows on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.domain.text import fold
from scimhub.domain.users import User
from scimhub.errors import InvalidValue, Uniqueness
from scimhub.query.pages import Page, Query
from scimhub.query.schema import GROUP, USER, ResourceType
from scimhub.store.records import GroupRef
from scimhub.store.sql.batches import ForIds, chunks
from scimhub.store.sql.filters import compile_filter
from scimhub.store.sql.keyset import seek_page
from scimhub.store.sql.locks import RowLock
from scimhub.store.sql.roles import MAX_NESTING
from scimhub.store.sql.sorting import sort_order
from scimhub.store.sql.tables import group_members, group_roles, groups, user_emails, user_roles, users

R = TypeVar("R", User, Group)

PROVISIONED = "provisioned"
"""The ``user_roles.source`` of roles mirrored from the SCIM ``roles`` attribute."""


def _key(text: str) -> str:
    """Return the case-insensitive form stored in ``*_key`` columns: NFC, lower-cased (ADR 0021)."""
    return fold(text)


def _email_rows(user: User) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user.id,
            "position": position,
            "value_key": _key(email["value"]),
            "type_key": _key(email["type"]) if isinstance(email.get("type"), str) else None,
        }
        for position, email in enumerate(user.doc.get("emails", ()))
        if isinstance(email, dict) and isinstance(email.get("value"), str)
    ]


def _search(
    connection: Connection,
    table: Table,
    resource_type: ResourceType,
    query: Query,
    also: ColumnElement[bool] | None = None,
    counted: ColumnElement[bool] | None = None,
) -> tuple[int, Sequence[Row[Any]]]:
    """Return the count and one page of the rows matching ``query``'s filter and ``also``.

    ``counted`` replaces ``also`` in the count, where an index serves a count better than the page.
    """
    filtered = compile_filter(resource_type, query.filter) if query.filter is not None else None
    where = _both(filtered, also)
    rows: Sequence[Row[Any]] = ()
    if query.limit > 0:
        by = query.sort_by
        order = [table.c.id] if by is None else sort_order(resource_type, by, query.descending)
        # A narrowed search sorts only the keys of its matches, never their whole rows (documents included).
        rows = connection.execute(_page(table, where, order, query, deferred=also is not None)).all()
        if len(rows) < query.limit and (rows or query.offset == 0):
            # The page reaches the last match (both reads share one snapshot): no count
            # needed. This is every lookup Entra sends (`userName eq …`: 0 or 1 match).
            return query.offset + len(rows), rows
    count_where = _both(filtered, counted if counted is not None else also)
    count = select(func.count()).select_from(table)
    total = connection.execute(count if count_where is None else count.where(count_where)).scalar_one()
    return total, rows


def _both(left: ColumnElement[bool] | None, right: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    if left is None or right is None:
        return left if right is None else right
    return and_(left, right)


def _page(
    table: Table, where: ColumnElement[bool] | None, order: list[Any], query: Query, deferred: bool = False
) -> Select[Any]:
    """Return the statement reading one page of ``table``'s matching rows, in ``order``.

    A page deep in the set is a deferred join: its ids first, which OFFSET walks
    to on the index alone (the primary key's, or a name key's, which INCLUDEs the
    id on PostgreSQL), then only its own rows. Selecting whole rows under OFFSET
    reads every row it skips (a million users, by id: 693 ms against 47 ms on PostgreSQL).
    """
    if query.offset == 0 and not deferred:
        selected = select(table).order_by(*order).limit(query.limit)
        return selected if where is None else selected.where(where)
    key = _row_key(table.c.id)
    keys = select(key.label("key")).order_by(*order).offset(query.offset).limit(query.limit)
    page = (keys if where is None else keys.where(where)).subquery("page")
    return select(table).join(page, key == page.c.key).order_by(*order)


def _starting(low: str, dialect: str) -> ColumnElement[bool]:
    """Return where a user's userName, displayName or an email key starts with ``low``, by three key ranges.

    SQLite answers the OR of the three ranges with one index each (its multi-index OR);
    PostgreSQL plans that OR as a scan of every user and answers the union of the three
    index reads in under a millisecond (1M users: 2.2 s against 0.4 ms, docs/benchmarks.md).
    """
    high = low + "\U0010ffff"  # past every key that starts with ``low``
    email = user_emails.c.value_key
    emails = select(user_emails.c.user_id).where(email >= low, email < high)
    by_name = and_(users.c.user_name_key >= low, users.c.user_name_key < high)
    by_display = and_(users.c.display_name_key >= low, users.c.display_name_key < high)
    if dialect != "postgresql":
        return or_(by_name, by_display, users.c.id.in_(emails))
    ids = union(select(users.c.id).where(by_name), select(users.c.id).where(by_display), emails)
    return users.c.id.in_(ids)


def _holding(role: Role) -> CompoundSelect[Any]:
    """Return the ids of the users who hold ``role``: directly, or through groups nested up to MAX_NESTING.

    The walk goes down from the groups that have the role, as ``SqlRoleRows.grants`` goes up from a
    user (ADR 0038): their members at depth 1, the members of member groups at depth 2, and so on;
    the depth bound ends a cycle. Group ids among the results match no user.
    """
    reached = (
        select(group_roles.c.group_id.label("id"), literal(0).label("depth"))
        .where(group_roles.c.role == role.value)
        .cte("reached", recursive=True)
    )
    reached = reached.union(
        select(group_members.c.member_id, reached.c.depth + 1)
        .join(group_members, group_members.c.group_id == reached.c.id)
        .where(reached.c.depth < MAX_NESTING)
    )
    direct = select(user_roles.c.user_id).where(user_roles.c.role == role.value)
    return union(direct, select(reached.c.id).where(reached.c.depth >= 1))


def _unindexed(column: Column[Any]) -> ColumnElement[Any]:
    """Return ``column`` as no index serves it, ``coalesce(c, c)``: checked on the rows found otherwise."""
    return func.coalesce(column, column)


class _row_key(FunctionElement[Any]):
    """What a deep page finds its rows by.

    The id on PostgreSQL; on SQLite the ``rowid``, which every SQLite index holds, so OFFSET
    skips entries without reading their rows.
    """

    inherit_cache = True
    name = "row_key"


@compiles(_row_key)
def _compile_rowid(element: _row_key, compiler: SQLCompiler, **kw: Any) -> str:
    (id_column,) = element.clauses.clauses
    return compiler.process(id_column, **kw).removesuffix(id_column.name) + "rowid"


@compiles(_row_key, "postgresql")
def _compile_id(element: _row_key, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@cache
def _lookup(table: Table, column: str, lock: RowLock = RowLock.NONE) -> Select[Any]:
    """Return ``SELECT * FROM table WHERE column = :key``, built once (``store/sql/batches.py``)."""
    return lock.on(select(table).where(table.c[column] == bindparam("key")))


@cache
def _names_of(name: Column[Any], lock: RowLock = RowLock.NONE) -> ForIds:
    """Return ``SELECT id, name FROM its table WHERE id IN (…)``, with the row lock ``lock``, built once."""
    return ForIds(lambda match: lock.on(select(name.table.c.id, name).where(match(name.table.c.id))))


def _names(
    connection: Connection, name: Column[Any], ids: Iterable[str], lock: RowLock = RowLock.NONE
) -> dict[str, str]:
    return {id: value for id, value in _names_of(name, lock).rows(connection, list(dict.fromkeys(ids)))}


class _ResourceRows(Generic[R]):
    """What users and groups share: get, write under a unique name, delete, search, names."""

    _table: Table
    _resource_type: ResourceType
    _name_column: str
    """The column holding the name (``user_name`` / ``display_name``)."""
    _name_attribute: str

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _record(self, row: Row[Any]) -> R:
        raise NotImplementedError

    def _columns(self, record: R) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, id: str, *, for_update: bool = False, for_delete: bool = False) -> R | None:
        """Return the record with this SCIM id, or None.

        ``for_update`` locks the row against other writers until the transaction
        ends, but lets others refer to it (add it as a member) meanwhile;
        ``for_delete`` also waits for, and then holds off, whoever refers to it.
        """
        lock = RowLock.DELETE if for_delete else RowLock.CHANGE if for_update else RowLock.NONE
        return self._first(_lookup(self._table, "id", lock), id)

    def get_by_name(self, name: str) -> R | None:
        """Return the record whose name equals ``name`` in any case, or None (a unique index lookup)."""
        return self._first(_lookup(self._table, f"{self._name_column}_key"), _key(name))

    def _first(self, statement: Any, key: str) -> R | None:
        row = self._connection.execute(statement, {"key": key}).first()
        return self._record(row) if row else None

    def _write(self, statement: Any, record: R, *, with_id: bool = True) -> None:
        """Insert or update; a taken name aborts the transaction as ``Uniqueness``.

        No savepoint guards the write: the caller rolls the whole transaction back anyway.
        """
        columns = self._columns(record)
        if not with_id:
            # SET id = id would make SQLite re-check every member row's foreign key (O(group size)).
            del columns["id"]
        try:
            self._connection.execute(statement, columns)
        except IntegrityError as error:
            for markers, detail in self._unique_columns(columns):
                if any(marker in str(error.orig) for marker in markers):
                    raise Uniqueness(detail) from None
            raise

    def _unique_columns(self, columns: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
        """Return, per unique column, how its violation reads (SQLite, PostgreSQL) and the detail to raise."""
        name = columns[self._name_column]
        return [((f"{self._name_column}_key",), f"{self._name_attribute} '{name}' is already taken")]

    def insert(self, record: R) -> None:
        """Store a new record. :raises Uniqueness: When its name is taken, in any case."""
        self._write(insert(self._table), record)

    def update(self, record: R) -> None:
        """Overwrite a stored record. :raises Uniqueness: When its new name is taken, in any case."""
        statement = update(self._table).where(self._table.c.id == record.id)
        self._write(statement, record, with_id=False)

    def delete(self, id: str) -> bool:
        """Delete a record and every membership row naming it; tell whether it existed.

        The caller holds the row with ``get(id, for_delete=True)`` first (ADR 0020): a
        member added meanwhile would otherwise outlive the record, since ``member_id``
        has no foreign key.
        """
        self._connection.execute(
            delete(group_members).where(or_(group_members.c.member_id == id, group_members.c.group_id == id))
        )
        return self._connection.execute(delete(self._table).where(self._table.c.id == id)).rowcount > 0

    def search(self, query: Query) -> Page[R]:
        """Return the records that match ``query``, in its order: after an offset, or a sort key."""
        if query.seek is not None:
            rt = self._resource_type
            where = compile_filter(rt, query.filter) if query.filter is not None else None
            total, rows, keys, more = seek_page(self._connection, self._table, rt, where, query)
            return Page(total, [self._record(row) for row in rows], keys, more)
        total, rows = _search(self._connection, self._table, self._resource_type, query)
        return Page(total, [self._record(row) for row in rows])

    def names(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the name of each of ``ids`` that names a stored record.

        ``refer`` keeps each record found from being deleted until the transaction
        ends (a share lock on its row, as a foreign key check takes): for a write
        that is about to name it in a row of its own (ADR 0020).
        """
        return _names(
            self._connection, self._table.c[self._name_column], ids, RowLock.REFER if refer else RowLock.NONE
        )


class SqlUserRows(_ResourceRows[User]):
    """Users, with their emails and provisioned roles mirrored into indexed tables."""

    _table = users
    _resource_type = USER
    _name_column = "user_name"
    _name_attribute = "userName"

    def search(
        self, query: Query, *, prefix: str | None = None, active: bool | None = None, role: Role | None = None
    ) -> Page[User]:
        """Return the users that match ``query`` and the console's narrowing, in order.

        ``prefix`` starts the userName, the displayName or an email (any case),
        ``active`` is the status, ``role`` a role held directly or through a group.
        Each is an indexed read, never a scan: a key range on the name keys and
        on ``user_emails``, ``users.active``, and ``user_roles`` with the members
        of the groups ``group_roles`` gives it to. SQLite plans without statistics,
        so only the narrowest given is offered to it as an index; the others are
        checked on the rows that one finds (``_unindexed``).
        """
        if prefix is None and active is None and role is None:
            return super().search(query)  # SCIM's searches, cursors (keyset pages) included
        if query.seek is not None:
            raise InvalidValue("a search by prefix, status or role pages by offset, not by cursor")
        terms: list[ColumnElement[bool]] = []
        if prefix is not None:
            terms.append(_starting(_key(prefix), self._connection.dialect.name))
        if role is not None:
            holders = users.c.id.in_(_holding(role))
            terms.append(holders if not terms else _unindexed(users.c.id).in_(_holding(role)))
        if active is not None:
            # The few suspended users are found by index; the active are nearly all: walk the order.
            indexed = active is False and not terms
            terms.append((users.c.active if indexed else _unindexed(users.c.active)) == active)
        also = and_(*terms) if terms else None
        # The count of "active" alone reads the index (a count walks no order).
        counted = users.c.active == active if active is not None and len(terms) == 1 else also
        total, rows = _search(self._connection, users, USER, query, also, counted)
        return Page(total, [self._record(row) for row in rows])

    def _record(self, row: Row[Any]) -> User:
        return User(row.id, row.doc, row.version, row.created, row.last_modified, row.password_hash, row.urn)

    def _columns(self, user: User) -> dict[str, Any]:
        doc = user.doc
        return {
            "id": user.id,
            "user_name": doc["userName"],
            "user_name_key": _key(doc["userName"]),
            "urn": user.urn,
            "external_id": doc.get("externalId"),
            "display_name": doc.get("displayName"),
            "display_name_key": _key(name) if isinstance(name := doc.get("displayName"), str) else None,
            "active": user.active,
            "doc": doc,
            "password_hash": user.password_hash,
            "version": user.version,
            "created": user.created,
            "last_modified": user.last_modified,
        }

    def _unique_columns(self, columns: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
        urn = columns["urn"]
        kept = f"the DataHub URN {urn} still names a user renamed since; a URN never moves (ADR 0008)"
        return [*super()._unique_columns(columns), (("users.urn", "uq_users_urn"), kept)]

    def get_by_urn(self, urn: str) -> User | None:
        """Return the user whose stored URN is ``urn``, or None (a unique index lookup)."""
        return self._first(_lookup(users, "urn"), urn)

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored user (``refer``: as in ``names``)."""
        return _names(self._connection, users.c.urn, ids, RowLock.REFER if refer else RowLock.NONE)

    def insert(self, user: User) -> None:
        """Store a new user. :raises Uniqueness: When the userName or its URN is taken."""
        super().insert(user)
        self._write_mirrors(user)

    def update(self, user: User) -> None:
        """Overwrite a stored user. :raises Uniqueness: When the new userName is taken."""
        super().update(user)
        self._connection.execute(delete(user_emails).where(user_emails.c.user_id == user.id))
        self._connection.execute(
            delete(user_roles).where(user_roles.c.user_id == user.id, user_roles.c.source == PROVISIONED)
        )
        self._write_mirrors(user)

    def _write_mirrors(self, user: User) -> None:
        """Mirror the user's emails and provisioned roles into their indexed tables."""
        rows = _email_rows(user)
        if rows:
            self._connection.execute(insert(user_emails), rows)
        roles = [
            {"user_id": user.id, "role": r.value, "source": PROVISIONED}
            for r in sorted(user.provisioned_roles)
        ]
        if roles:
            self._connection.execute(insert(user_roles), roles)


class SqlGroupRows(_ResourceRows[Group]):
    """Groups, without their members."""

    _table = groups
    _resource_type = GROUP
    _name_column = "display_name"
    _name_attribute = "displayName"

    def _record(self, row: Row[Any]) -> Group:
        return Group(row.id, row.doc, row.version, row.created, row.last_modified, row.urn)

    def _columns(self, group: Group) -> dict[str, Any]:
        return {
            "id": group.id,
            "display_name": group.display_name,
            "display_name_key": _key(group.display_name),
            "urn": group.urn,
            "external_id": group.doc.get("externalId"),
            "doc": group.doc,
            "version": group.version,
            "created": group.created,
            "last_modified": group.last_modified,
        }

    def _unique_columns(self, columns: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
        urn = columns["urn"]
        kept = f"the DataHub URN {urn} still names a group renamed since; a URN never moves (ADR 0037)"
        return [*super()._unique_columns(columns), (("groups.urn", "uq_groups_urn"), kept)]

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored group (``refer``: see ``names``)."""
        return _names(self._connection, groups.c.urn, ids, RowLock.REFER if refer else RowLock.NONE)


_COUNTS = ForIds(
    lambda match: (
        select(group_members.c.group_id, func.count())
        .where(match(group_members.c.group_id))
        .group_by(group_members.c.group_id)
    )
)
_GROUPS_OF = ForIds(
    lambda match: (
        select(group_members.c.member_id, groups.c.id, groups.c.display_name, groups.c.urn)
        .join(groups, groups.c.id == group_members.c.group_id)
        .where(match(group_members.c.member_id))
        .order_by(groups.c.display_name_key, groups.c.id)
    )
)


_ADD = {
    name: dialect.insert(group_members).on_conflict_do_nothing().returning(group_members.c.member_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""Membership rows added, by dialect: the ids really added come back, those already in are skipped."""
_CLEAR = (
    delete(group_members)
    .where(group_members.c.group_id == bindparam("group_id"))
    .returning(group_members.c.member_id)
)
_REMOVE = _CLEAR.where(group_members.c.member_id.in_(bindparam("ids", expanding=True)))


class SqlMemberRows:
    """Membership rows; every change is a set delta (ADR 0004)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def members(self, group_id: str, limit: int | None = None) -> Iterator[Member]:
        """Yield a group's members ordered by member id (the first ``limit``), streamed from the database."""
        statement = (
            select(group_members.c.member_id, group_members.c.member_type, group_members.c.display)
            .where(group_members.c.group_id == group_id)
            .order_by(group_members.c.member_id)
            .limit(limit)
            .execution_options(yield_per=1000)
        )
        # Closed with the generator when a reader stops early (ADR 0019): PostgreSQL's
        # server-side cursor ends then, not whenever the garbage collector finds it.
        with self._connection.execute(statement) as rows:
            for member_id, member_type, display in rows:
                yield Member(member_id, member_type, display)

    def counts(self, group_ids: Sequence[str]) -> dict[str, int]:
        """Return how many members each of ``group_ids`` has, counted on the primary key's index."""
        found = dict.fromkeys(group_ids, 0)
        found.update((group_id, count) for group_id, count in _COUNTS.rows(self._connection, group_ids))
        return found

    def groups_of(self, member_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Return, for each of ``member_ids``, the groups it directly belongs to."""
        found: dict[str, list[GroupRef]] = {member_id: [] for member_id in member_ids}
        for member_id, group_id, display_name, urn in _GROUPS_OF.rows(self._connection, member_ids):
            found[member_id].append(GroupRef(group_id, display_name, urn))
        return found

    def apply(self, group_id: str, change: MemberChange) -> tuple[set[str], set[str]]:
        """Apply clear, then remove, then add; return the ids really added and really removed."""
        removed: set[str] = set()
        if change.clear:
            removed.update(self._connection.execute(_CLEAR, {"group_id": group_id}).scalars())
        for chunk in chunks(sorted(change.remove)):
            found = self._connection.execute(_REMOVE, {"group_id": group_id, "ids": list(chunk)}).scalars()
            removed.update(found)
        rows = [
            {"group_id": group_id, "member_id": m.value, "member_type": m.type, "display": m.display}
            for m in {m.value: m for m in change.add}.values()
        ]
        added: set[str] = set()
        if rows:
            # One prebuilt statement, many parameter sets: SQLAlchemy's "insertmanyvalues" batches
            # them into multi-row INSERTs itself, without compiling a statement per batch.
            added.update(self._connection.execute(_ADD[self._connection.dialect.name], rows).scalars())
        # A member removed and added back in one PATCH is neither added nor removed.
        return added - removed, removed - added
