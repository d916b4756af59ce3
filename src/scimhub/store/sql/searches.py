"""Searches over the users and groups tables: one page and an exact count, read as the indexes allow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    Table,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    union,
)

from scimhub.domain.roles import Role
from scimhub.query.pages import Query
from scimhub.query.schema import ResourceType
from scimhub.store.sql.functions import row_key
from scimhub.store.sql.prepared import rows
from scimhub.store.sql.roles import MAX_NESTING
from scimhub.store.sql.shapes import compile_filter
from scimhub.store.sql.sorting import sort_order
from scimhub.store.sql.tables import GROUP_MEMBER, group_members, group_roles, user_emails, user_roles, users


def search_rows(
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
    clause, values = (filtered.clause, filtered.values) if filtered is not None else (None, None)
    where = _both(clause, also)
    page: Sequence[Any] = ()
    if query.limit > 0:
        by = query.sort_by
        order = [table.c.id] if by is None else sort_order(resource_type, by, query.descending)
        # A narrowed search sorts only the keys of its matches, never their whole rows (documents included).
        page = rows(connection, _page(table, where, order, query, deferred=also is not None), values)
        if len(page) < query.limit and (page or query.offset == 0):
            # The page reaches the last match (both reads share one snapshot): no count
            # needed. This is every lookup Entra sends (`userName eq …`: 0 or 1 match).
            return query.offset + len(page), page
    count_where = _both(clause, counted if counted is not None else also)
    count = select(func.count()).select_from(table)
    total = rows(connection, count if count_where is None else count.where(count_where), values)[0][0]
    return total, page


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
    key = row_key(table.c.id)
    keys = select(key.label("key")).order_by(*order).offset(query.offset).limit(query.limit)
    page = (keys if where is None else keys.where(where)).subquery("page")
    return select(table).join(page, key == page.c.key).order_by(*order)


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


def unindexed(column: Column[Any]) -> ColumnElement[Any]:
    """Return ``column`` as no index serves it, ``coalesce(c, c)``: checked on the rows found otherwise."""
    return func.coalesce(column, column)
