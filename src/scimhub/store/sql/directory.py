"""Users, groups and membership rows on SQLAlchemy Core."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Executable,
    Insert,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from scimhub.domain.groups import Group
from scimhub.domain.roles import Role
from scimhub.domain.text import fold
from scimhub.domain.users import User
from scimhub.errors import Uniqueness
from scimhub.query.pages import Page, Query, Seek, Walk
from scimhub.query.paths import AttrRef
from scimhub.query.schema import GROUP, USER, ResourceType
from scimhub.store.sql.batches import ForIds
from scimhub.store.sql.deadlines import search_deadline
from scimhub.store.sql.keyset import directed_terms, seek_page, up_to, window_end
from scimhub.store.sql.locks import RowLock
from scimhub.store.sql.members import GROUPS_OF_USER, group_refs
from scimhub.store.sql.prepared import Params, ahead, rows
from scimhub.store.sql.searches import (
    by_creation,
    first_holders,
    holding,
    holds,
    search_rows,
    starting,
    unindexed,
)
from scimhub.store.sql.shapes import compile_filter
from scimhub.store.sql.sorting import sort_expression
from scimhub.store.sql.tables import group_members, groups, user_emails, user_roles, users, violated

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


@cache
def _lookup(table: Table, column: str, lock: RowLock = RowLock.NONE) -> Select[Any]:
    """Return ``SELECT * FROM table WHERE column = :key``, built once (``store/sql/batches.py``)."""
    return lock.on(select(table).where(table.c[column] == bindparam("key")))


@cache
def _inserting(table: Table) -> Insert:
    """Return ``INSERT INTO table`` of every column, each value a parameter named after it, built once."""
    return insert(table).values({c.name: bindparam(c.name) for c in table.c})


_EMAILS_OF = delete(user_emails).where(user_emails.c.user_id == bindparam("user_id"))
_PROVISIONED_ROLES_OF = delete(user_roles).where(
    user_roles.c.user_id == bindparam("user_id"), user_roles.c.source == PROVISIONED
)


@cache
def _updating(table: Table) -> Update:
    """Return ``UPDATE table SET`` every column ``WHERE id = :id``, built once.

    Never ``SET id = id``: SQLite would re-check every member row's foreign key (O(group size)).
    """
    changed: dict[str, Any] = {c.name: bindparam(c.name) for c in table.c if c is not table.c.id}
    return update(table).where(table.c.id == bindparam("id")).values(changed)


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
        found = rows(self._connection, statement, {"key": key})
        return self._record(found[0]) if found else None

    def _write(self, statement: Any, record: R, *, replacing: bool) -> None:
        """Insert or update, with the record's mirrors; a taken name aborts the transaction as ``Uniqueness``.

        The statements go out together, and on PostgreSQL in the round trip of whatever the
        transaction runs next: its events and ``COMMIT`` (``ahead``, ADR 0063). No savepoint guards
        the write: the caller rolls the whole transaction back anyway.
        """
        columns = self._columns(record)

        def taken(error: DBAPIError) -> Uniqueness | None:
            if not isinstance(error, IntegrityError):
                return None
            constraint = violated(error)
            for markers, detail in self._unique_columns(columns, inserting=not replacing):
                if any(marker in constraint for marker in markers):
                    return Uniqueness(detail)
            return None

        ahead(self._connection, [(statement, columns), *self._mirrors(record, replacing=replacing)], taken)

    def _unique_columns(
        self, columns: dict[str, Any], *, inserting: bool
    ) -> list[tuple[tuple[str, ...], str]]:
        """Return, per unique column, the names its violation goes by, and the detail to raise.

        The names: the column as SQLite's message gives it, the constraint as PostgreSQL's does.
        """
        name, key = columns[self._name_column], f"{self._table.name}.{self._name_column}_key"
        return [((key, f"uq_{key.replace('.', '_')}"), f"{self._name_attribute} '{name}' is already taken")]

    def _mirrors(self, record: R, *, replacing: bool) -> list[tuple[Executable, Params]]:
        """Return the statements that keep the record's indexed copies (a user's emails) with it."""
        return []

    def insert(self, record: R) -> None:
        """Store a new record. :raises Uniqueness: When its name is taken, in any case."""
        self._write(_inserting(self._table), record, replacing=False)

    def update(self, record: R) -> None:
        """Overwrite a stored record. :raises Uniqueness: When its new name is taken, in any case."""
        self._write(_updating(self._table), record, replacing=True)

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
        return self._matching(query, None)

    def _matching(self, query: Query, related: ColumnElement[Any] | None) -> Page[R]:
        """Return ``search``'s page, ``related`` read with each record by the same statement."""
        if query.seek is not None:
            return self._seek(query, related=related)
        rt = self._resource_type
        total, rows = search_rows(self._connection, self._table, rt, query, related=related)
        return self._page(total, rows, related)

    def _seek(
        self, query: Query, also: ColumnElement[bool] | None = None, related: ColumnElement[Any] | None = None
    ) -> Page[R]:
        """Return the page after (or before) ``query``'s sort key of matches of its filter and ``also``."""
        rt = self._resource_type
        filtered = compile_filter(rt, query.filter) if query.filter is not None else None
        where = also if filtered is None else filtered.clause if also is None else and_(filtered.clause, also)
        values = filtered.values if filtered is not None else None
        with search_deadline(self._connection):
            total, rows, keys, more = seek_page(
                self._connection, self._table, rt, where, query, values, related
            )
        return self._page(total, rows, related, keys, more)

    def _page(
        self,
        total: int,
        rows: Sequence[Row[Any]],
        related: ColumnElement[Any] | None,
        keys: Sequence[tuple[Any, ...]] = (),
        more: bool = False,
    ) -> Page[R]:
        found = [row.related for row in rows] if related is not None else ()
        return Page(total, [self._record(row) for row in rows], keys, more, found)

    def names(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the name of each of ``ids`` that names a stored record.

        ``refer`` keeps each record found from being deleted until the transaction
        ends (a share lock on its row, as a foreign key check takes): for a write
        that is about to name it in a row of its own (ADR 0020).
        """
        return _names(
            self._connection, self._table.c[self._name_column], ids, RowLock.REFER if refer else RowLock.NONE
        )


def _with_urn(
    unique: list[tuple[tuple[str, ...], str]], urn: str, kind: str, decision: str, inserting: bool
) -> list[tuple[tuple[str, ...], str]]:
    """Add the URN's constraint to a resource's unique columns (``_unique_columns``).

    A new resource takes its name's key and its URN: both are taken by a plain duplicate, the URN
    alone by a resource renamed since. The database names whichever constraint it checked first,
    which differs by engine and table, so an insert's detail says both, whichever fired: the same
    on both engines. A rename takes a name only (a URN never moves).
    """
    [(names, taken)] = unique
    table = f"{kind}s"
    kept = f"{taken}, or the DataHub URN {urn} still names a {kind} renamed since"
    kept += f"; a URN never moves ({decision})"
    return [(names, kept if inserting else taken), ((f"{table}.urn", f"uq_{table}_urn"), kept)]


class SqlUserRows(_ResourceRows[User]):
    """Users, with their emails and provisioned roles mirrored into indexed tables."""

    _table = users
    _resource_type = USER
    _name_column = "user_name"
    _name_attribute = "userName"

    def search(
        self,
        query: Query,
        *,
        prefix: str | None = None,
        active: bool | None = None,
        role: Role | None = None,
        walk: Walk | None = None,
        with_groups: bool = False,
    ) -> Page[User]:
        """Return the users that match ``query`` and the console's narrowing, in order.

        ``prefix`` starts the userName, the displayName or an email (any case),
        ``active`` is the status, ``role`` a role held directly or through a group.
        Each is an indexed read, never a scan: a key range on the name keys and
        on ``user_emails``, ``users.active``, and ``user_roles`` with the members
        of the groups ``group_roles`` gives it to. SQLite plans without statistics,
        so only the narrowest given is offered to it as an index; the others are
        checked on the rows that one finds (``unindexed``).

        An uncounted keyset page of a role is read without the role's whole set of holders where
        it can be (``_role_page``): by creation from the holders' own rows (ADR 0052); in another
        order, ``walk`` says when the page is likely among the next ``walk.rows`` users of the
        list's order, looked for there first by testing each (ADR 0045).

        ``with_groups``: each user's groups too, into ``Page.related``, read by the statement that
        reads the page (ADR 0057).
        """
        related = GROUPS_OF_USER if with_groups else None
        page = self._search(query, related, prefix, active, role, walk)
        return replace(page, related=[group_refs(value) for value in page.related]) if with_groups else page

    def _search(
        self,
        query: Query,
        related: ColumnElement[Any] | None,
        prefix: str | None,
        active: bool | None,
        role: Role | None,
        walk: Walk | None,
    ) -> Page[User]:
        if prefix is None and active is None and role is None:
            return self._matching(query, related)  # SCIM's searches, cursors (keyset pages) included
        if role is not None and prefix is None and query.seek is not None and not query.seek.count:
            found = self._role_page(query, query.seek, role, active, walk, related)
            if found is not None:
                return found
        terms: list[ColumnElement[bool]] = []
        if prefix is not None:
            terms.append(starting(_key(prefix), self._connection.dialect.name))
        if role is not None:
            holders = users.c.id.in_(holding(role))
            terms.append(holders if not terms else unindexed(users.c.id).in_(holding(role)))
        if active is not None:
            # The few suspended users are found by index; the active are nearly all: walk the order.
            indexed = active is False and not terms
            terms.append((users.c.active if indexed else unindexed(users.c.active)) == active)
        also = and_(*terms) if terms else None
        if query.seek is not None:  # the console's pages: after a sort key, as SCIM's cursors (ADR 0044)
            return self._seek(query, also, related)
        # The count of "active" alone reads the index (a count walks no order).
        counted = users.c.active == active if active is not None and len(terms) == 1 else also
        total, rows = search_rows(self._connection, users, USER, query, also, counted, related)
        return self._page(total, rows, related)

    def _role_page(
        self,
        query: Query,
        seek: Seek,
        role: Role,
        active: bool | None,
        walk: Walk | None,
        related: ColumnElement[Any] | None,
    ) -> Page[User] | None:
        """Return an uncounted keyset page of ``role``'s holders read without their whole set, or None.

        By creation, from the ranges of the rows that make a user a holder, which keep its creation
        time (ADR 0052), unless a SCIM filter narrows the list too: the ranges' first rows are the
        first holders, not the first that match it, so the page would end early. In another order,
        by a walk along it when ``walk`` says that likely finds the page (ADR 0045); None otherwise,
        and the caller reads the holders.
        """
        terms = directed_terms(USER, query)
        if by_creation(terms) and query.filter is None:
            ids = first_holders(self._connection, role, terms, seek.after, active, query.limit + 1)
            return self._seek(query, users.c.id.in_(ids), related)
        if walk is None or walk.rows <= 0:
            return None
        return self._walk(query, role, active, walk, related)

    def _walk(
        self, query: Query, role: Role, active: bool | None, walk: Walk, related: ColumnElement[Any] | None
    ) -> Page[User] | None:
        """Return the keyset page of ``role``'s holders found among the next ``walk.rows`` users, in order.

        Costs ``walk.rows`` index entries and two probes each at most, however many hold the role.
        None when the window holds less than the page and more users follow it, or when the
        sample says it likely does: the caller then reads the holders (``holding``), so the
        answer is the same either way.
        """
        last = window_end(self._connection, users, USER, query, walk.rows)
        if last is not None and not _promising(query, last, walk):
            return None
        test = holds(role) if active is None else and_(holds(role), unindexed(users.c.active) == active)
        found = self._seek(query, test if last is None else and_(test, up_to(USER, query, last)), related)
        return found if found.more or last is None else None

    def sample_holders(self, role: Role, size: int, orders: Sequence[AttrRef]) -> list[tuple[Any, ...]]:
        """Return what each of ``orders`` sorts by, for up to ``size`` holders of ``role`` drawn at random."""
        held = holding(role, users_only=True).subquery()
        drawn = select(held.c[0]).order_by(func.random()).limit(size)
        keys = [sort_expression(USER, attr) for attr in orders]
        return [tuple(row) for row in self._connection.execute(select(*keys).where(users.c.id.in_(drawn)))]

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

    def _unique_columns(
        self, columns: dict[str, Any], *, inserting: bool
    ) -> list[tuple[tuple[str, ...], str]]:
        unique = super()._unique_columns(columns, inserting=inserting)
        return _with_urn(unique, columns["urn"], "user", "ADR 0008", inserting)

    def get_by_urn(self, urn: str) -> User | None:
        """Return the user whose stored URN is ``urn``, or None (a unique index lookup)."""
        return self._first(_lookup(users, "urn"), urn)

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored user (``refer``: as in ``names``)."""
        return _names(self._connection, users.c.urn, ids, RowLock.REFER if refer else RowLock.NONE)

    def _mirrors(self, user: User, *, replacing: bool) -> list[tuple[Executable, Params]]:
        """Copy the user's emails and provisioned roles into their indexed tables, the old ones out first."""
        steps: list[tuple[Executable, Params]] = []
        if replacing:
            steps += [(_EMAILS_OF, {"user_id": user.id}), (_PROVISIONED_ROLES_OF, {"user_id": user.id})]
        emails = _email_rows(user)
        if emails:
            steps.append((_inserting(user_emails), emails))
        roles = [
            {"user_id": user.id, "role": r.value, "source": PROVISIONED, "user_created": user.created}
            for r in sorted(user.provisioned_roles)
        ]
        if roles:
            steps.append((_inserting(user_roles), roles))
        return steps


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

    def _unique_columns(
        self, columns: dict[str, Any], *, inserting: bool
    ) -> list[tuple[tuple[str, ...], str]]:
        unique = super()._unique_columns(columns, inserting=inserting)
        return _with_urn(unique, columns["urn"], "group", "ADR 0037", inserting)

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored group (``refer``: see ``names``)."""
        return _names(self._connection, groups.c.urn, ids, RowLock.REFER if refer else RowLock.NONE)


def _promising(query: Query, last: Sequence[Any], walk: Walk) -> bool:
    """Tell whether the window up to the sort key ``last`` likely holds half a page of holders.

    By how many of the sample lie in it, placed by the order's attribute alone (ADR 0051):
    no statement. A role bunched beyond the window is then read by its holders at once.
    Without a sample, or for an order that sorts missing values last first, the walk is tried.
    """
    terms = directed_terms(USER, query)
    if not walk.sample or len(terms) > 2:
        return True
    sample, end, down = walk.sample, last[0], terms[0][1]
    seek = query.seek.after[0] if query.seek is not None and query.seek.after is not None else None
    if down:  # the window runs from before the seek key down to ``end``
        inside = (len(sample) if seek is None else bisect_left(sample, seek)) - bisect_left(sample, end)
    else:
        inside = bisect_right(sample, end) - (0 if seek is None else bisect_right(sample, seek))
    return 2 * inside * walk.holders >= len(sample) * query.limit
