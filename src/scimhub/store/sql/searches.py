"""Searches over the users and groups tables: one page and an exact count, read as the indexes allow."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)

from scimhub.domain.roles import Role
from scimhub.query.pages import Query
from scimhub.query.schema import ResourceType
from scimhub.store.sql.deadlines import search_deadline
from scimhub.store.sql.functions import row_key
from scimhub.store.sql.keyset import Terms, after
from scimhub.store.sql.prepared import rows
from scimhub.store.sql.roles import MAX_NESTING
from scimhub.store.sql.shapes import SHAPES_KEPT, compile_filter, path_key
from scimhub.store.sql.sorting import sort_order
from scimhub.store.sql.tables import GROUP_MEMBER, group_members, group_roles, user_emails, user_roles, users


def search_rows(
    connection: Connection,
    table: Table,
    resource_type: ResourceType,
    query: Query,
    also: ColumnElement[bool] | None = None,
    counted: ColumnElement[bool] | None = None,
    related: ColumnElement[Any] | None = None,
) -> tuple[int, Sequence[Row[Any]]]:
    """Return the count and one page of the rows matching ``query``'s filter and ``also``.

    ``counted`` replaces ``also`` in the count, where an index serves a count better than the page.
    ``related`` is read with each row, after its columns (a user's groups, ``members.GROUPS_OF_USER``).
    A lookup (``Query.is_lookup``) is one statement: the page. Any other has a deadline (``deadlines``).
    """
    if query.is_lookup:  # one statement by an index: no deadline to set (ADR 0088)
        return _page_and_count(connection, table, resource_type, query, also, counted, related)
    with search_deadline(connection):
        return _page_and_count(connection, table, resource_type, query, also, counted, related)


def _page_and_count(
    connection: Connection,
    table: Table,
    resource_type: ResourceType,
    query: Query,
    also: ColumnElement[bool] | None,
    counted: ColumnElement[bool] | None,
    related: ColumnElement[Any] | None,
) -> tuple[int, Sequence[Row[Any]]]:
    filtered = compile_filter(resource_type, query.filter) if query.filter is not None else None
    clause = filtered.clause if filtered is not None else None
    values = {"page_limit": query.limit, "page_offset": query.offset, **(filtered.values if filtered else {})}
    # A SCIM search's statements are kept by the shape of its filter and order (ADR 0053): built,
    # and keyed by SQLAlchemy, once. A narrowed one (``also``, the console's) is built for each call.
    shape = None
    if also is None:
        by = None if query.sort_by is None else path_key(query.sort_by)
        shape = (table, resource_type, filtered.shape if filtered else None, by, query.descending, related)
    page: Sequence[Any] = ()
    if query.limit > 0:
        top = query.offset == 0 and also is None
        where = _both(clause, also)
        statement = _kept(
            shape and (*shape, top), lambda: _page(table, resource_type, where, query, top, related)
        )
        page = rows(connection, statement, values)
        if query.is_lookup or (len(page) < query.limit and (page or query.offset == 0)):
            # The page reaches the last match (both reads share one snapshot): no count
            # needed. This is every lookup Entra sends (`userName eq …`: 0 or 1 match).
            return query.offset + len(page), page
    count_where = _both(clause, counted if counted is not None else also)
    count = _kept(shape and (*shape, "count"), lambda: _count(table, count_where))
    return rows(connection, count, values)[0][0], page


_statements: OrderedDict[tuple[Any, ...], Select[Any]] = OrderedDict()
_lock = threading.Lock()


def _kept(key: tuple[Any, ...] | None, build: Callable[[], Select[Any]]) -> Select[Any]:
    """Return the statement kept under ``key``, built the first time; built each time when ``key`` is None.

    The same statement object each time is what makes SQLAlchemy compute its cache key once.
    """
    if key is None:
        return build()
    with _lock:
        statement = _statements.get(key)
        if statement is not None:
            _statements.move_to_end(key)
            return statement
    statement = build()
    with _lock:
        _statements[key] = statement
        while len(_statements) > SHAPES_KEPT:
            _statements.popitem(last=False)
    return statement


def _count(table: Table, where: ColumnElement[bool] | None) -> Select[Any]:
    count = select(func.count()).select_from(table)
    return count if where is None else count.where(where)


def _both(left: ColumnElement[bool] | None, right: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    if left is None or right is None:
        return left if right is None else right
    return and_(left, right)


def _page(
    table: Table,
    resource_type: ResourceType,
    where: ColumnElement[bool] | None,
    query: Query,
    top: bool,
    related: ColumnElement[Any] | None,
) -> Select[Any]:
    """Return the statement reading one page of ``table``'s matching rows, in ``query``'s order.

    Its bounds are bind parameters (``page_limit``, ``page_offset``), so one statement serves every page.
    ``top``: the first page of a search that is not narrowed, read whole rows directly.
    Any other page is a deferred join: its ids first, which OFFSET walks
    to on the index alone (the primary key's, or a name key's, which INCLUDEs the
    id on PostgreSQL), then only its own rows. Selecting whole rows under OFFSET
    reads every row it skips (a million users, by id: 693 ms against 47 ms on PostgreSQL).
    A narrowed search sorts only the keys of its matches, never their whole rows (documents included).
    """
    by = query.sort_by
    order = [table.c.id] if by is None else sort_order(resource_type, by, query.descending)
    limit = bindparam("page_limit", type_=Integer(), required=True)
    columns = (table,) if related is None else (table, related)
    if top:
        selected = select(*columns).order_by(*order).limit(limit)
        return selected if where is None else selected.where(where)
    key = row_key(table.c.id)
    offset = bindparam("page_offset", type_=Integer(), required=True)
    keys = select(key.label("key")).order_by(*order).offset(offset).limit(limit)
    page = (keys if where is None else keys.where(where)).subquery("page")
    return select(*columns).join(page, key == page.c.key).order_by(*order)


def starting(low: str, dialect: str) -> ColumnElement[bool]:
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


def holding(role: Role, *, users_only: bool = False) -> CompoundSelect[Any]:
    """Return the ids of the users who hold ``role``: directly, or through groups nested up to MAX_NESTING.

    Those given it, and the user members of the groups that pass it on (``conferring``): the walk
    down from the groups that have the role goes through member groups only, as ``SqlRoleRows.grants``
    goes up from a user (ADR 0038), so it costs the groups under the role and one index range of
    members each, never a step through every member user (10,000 Editors: 21 → 9 ms on SQLite,
    28 → 11 ms on PostgreSQL).
    """
    direct = select(user_roles.c.user_id).where(user_roles.c.role == role.value)
    # Group ids among the members match no user; leaving them in keeps the read on the key's index.
    # ``users_only`` reads each member's row to leave them out: for a sample, which must be users.
    members = select(group_members.c.member_id).where(group_members.c.group_id.in_(conferring(role)))
    if users_only:
        members = members.where(group_members.c.member_type != GROUP_MEMBER)
    return union(direct, members)


def holds(role: Role) -> ColumnElement[bool]:
    """Return where a user holds ``role``, tested on each row found otherwise (the order's index, ADR 0045).

    Two probes a user, whatever the number of holders: its direct roles, and its memberships
    in the groups that pass the role on to their direct members (``conferring``). A user is
    a member of such a group exactly when ``holding`` reaches it, so both find the same users.
    """
    direct = exists().where(user_roles.c.user_id == users.c.id, user_roles.c.role == role.value)
    member = group_members.c.member_id == users.c.id
    return or_(direct, exists().where(member, group_members.c.group_id.in_(conferring(role))))


def conferring(role: Role) -> Select[Any]:
    """Return the ids of the groups whose direct members hold ``role``.

    Those given it, and their member groups down to MAX_NESTING - 1 levels: a user is then at
    most MAX_NESTING levels below, as ``SqlRoleRows.grants`` finds it; a cycle ends at the depth
    bound. The walk follows member groups only, so it costs the groups under the role, not its users.
    """
    reached = (
        select(group_roles.c.group_id.label("id"), literal(0).label("depth"))
        .where(group_roles.c.role == role.value)
        .cte("conferring", recursive=True)
    )
    step = (
        select(group_members.c.member_id, reached.c.depth + 1)
        .join(group_members, group_members.c.group_id == reached.c.id)
        .where(reached.c.depth < MAX_NESTING - 1, group_members.c.member_type == GROUP_MEMBER)
    )
    return select(reached.union(step).c.id)


STREAMS_PER_STATEMENT = 200
"""Ranges read by one statement of ``first_holders``: SQLite allows 500 terms in a compound SELECT."""


def by_creation(terms: Terms) -> bool:
    """Tell whether ``terms`` (``keyset.directed_terms``) order users by ``created``, then the id."""
    return len(terms) == 2 and terms[0][0] is users.c.created and terms[1][0] is users.c.id


def first_holders(
    connection: Connection,
    role: Role,
    terms: Terms,
    after_key: Sequence[Any] | None,
    active: bool | None,
    count: int,
) -> list[str]:
    """Return ids among which lie the first ``count`` holders of ``role`` after ``after_key``, by creation.

    ``terms`` order by creation (``by_creation``). A user's ``created`` never changes, so every
    row that makes a user a holder keeps it (ADR 0052): the direct rows of ``user_roles``, and the
    membership rows of each group that passes the role on (``conferring``), each indexed with its
    role or group. Each of those is one index range in the list's order, and the first ``count``
    of each hold the first ``count`` overall: a user is in a range at most once (``DISTINCT`` for
    the direct rows, where a role can be both provisioned and assigned), so whatever precedes it
    in its range precedes it in the list. The ranges' first rows, cut past the ``count``-th
    creation time with its ties, are what the caller's page is then read from: about
    ``count`` index entries a range, whatever the number of holders.
    """
    groups = sorted(set(connection.execute(conferring(role)).scalars()))
    direct = _by_creation(user_roles.c.user_created, user_roles.c.user_id, terms, after_key, active)
    streams = [direct.where(user_roles.c.role == role.value).distinct()]
    for group_id in groups:
        members = _by_creation(
            group_members.c.member_created, group_members.c.member_id, terms, after_key, active
        )
        streams.append(members.where(group_members.c.group_id == group_id))
    found: dict[str, int] = {}
    for start in range(0, len(streams), STREAMS_PER_STATEMENT):
        ranges = [select(s.limit(count).subquery()) for s in streams[start : start + STREAMS_PER_STATEMENT]]
        found.update((id, created) for created, id in connection.execute(union_all(*ranges)))
    if len(found) <= count:
        return list(found)
    # What lies beyond the ``count``-th creation time cannot be on the page; its ties may.
    down = terms[0][1]
    last = sorted(found.values(), reverse=down)[count - 1]
    return [id for id, created in found.items() if (created >= last if down else created <= last)]


def _by_creation(
    created: Column[Any], id: Column[Any], terms: Terms, after_key: Sequence[Any] | None, active: bool | None
) -> Select[Any]:
    """Return the (creation time, user id) of a table's rows in ``terms``' order, after ``after_key``.

    Only rows of a stored user: one probe each, so that a row a user deleted by hand left behind
    (``member_id`` has no foreign key) takes no place among the first ``count``. ``active``: only
    of the users of that status, tested on the same probe.
    """
    own: Terms = [(created if key is users.c.created else id, down) for key, down in terms]
    ranged = select(created.label("created"), id.label("id")).order_by(
        *(key.desc() if down else key.asc() for key, down in own)
    )
    ranged = ranged.where(created.is_not(None) if after_key is None else after(own, after_key))
    ranged = ranged.join(users, users.c.id == id)
    return ranged if active is None else ranged.where(unindexed(users.c.active) == active)


def unindexed(column: Column[Any]) -> ColumnElement[Any]:
    """Return ``column`` as no index serves it, ``coalesce(c, c)``: checked on the rows found otherwise."""
    return func.coalesce(column, column)
