"""Role rows: administrators' assignments, and every user's grants in one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, Column, Connection, Executable, Table, delete, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from scimhub.domain.roles import Role
from scimhub.query.pages import Page, Seek
from scimhub.store.records import GroupRef, RoleGrant, RoleHolders
from scimhub.store.sql.batches import ForIds, Match
from scimhub.store.sql.tables import GROUP_MEMBER, group_members, group_roles, groups, user_roles, users

ASSIGNED = "assigned"

MAX_NESTING = 8
"""How many groups deep a role flows down to a user (ADR 0038): a role of a group reaches the
members of its member groups, and theirs, up to this many levels from the user."""


def reached_groups(match: Match) -> CTE:
    """Return the groups each user ``match`` selects reaches: (user_id, group_id, depth).

    The walk is a recursive query bounded by ``MAX_NESTING``: a cycle (A in B in A) ends at the
    bound instead of looping (ADR 0038). The grants and authentication's one statement (ADR 0040)
    both read it, so a role reaches a user the same way wherever it is read.
    """
    reach = (
        select(
            group_members.c.member_id.label("user_id"),
            group_members.c.group_id,
            literal(1).label("depth"),
        )
        .where(match(group_members.c.member_id))
        .cte("reach", recursive=True)
    )
    outer = group_members.alias("outer_members")
    # Only groups are members of groups: said in the SQL text, a planner knows the step meets few rows
    # (PostgreSQL read every membership into a hash for it: 2.9 → 0.6 ms for 50 users, ADR 0051).
    return reach.union(
        select(reach.c.user_id, outer.c.group_id, reach.c.depth + 1)
        .join(outer, outer.c.member_id == reach.c.group_id)
        .where(reach.c.depth < MAX_NESTING, outer.c.member_type == GROUP_MEMBER)
    )


def _grants(match: Match) -> Executable:
    """Return the statement reading the grants of the users ``match`` selects: direct, then through groups.

    ``DISTINCT`` folds the rows a group reached twice (or round a cycle) repeats.
    """
    reach = reached_groups(match)
    through_groups = (
        select(
            reach.c.user_id,
            group_roles.c.role,
            literal("group").label("source"),
            groups.c.id.label("group_id"),
            groups.c.display_name.label("group_name"),
            groups.c.urn.label("group_urn"),
        )
        .distinct()
        .join(group_roles, group_roles.c.group_id == reach.c.group_id)
        .join(groups, groups.c.id == reach.c.group_id)
    )
    direct = select(
        user_roles.c.user_id,
        user_roles.c.role,
        user_roles.c.source,
        literal(None).label("group_id"),
        literal(None).label("group_name"),
        literal(None).label("group_urn"),
    ).where(match(user_roles.c.user_id))
    return union_all(direct, through_groups).order_by("user_id", "role", "source", "group_id")


# Every authentication reads the grants: built once (store/sql/batches.py).
_GRANTS = ForIds(_grants)
_GROUP_ROLES = ForIds(
    lambda match: (
        select(group_roles.c.group_id, group_roles.c.role)
        .where(match(group_roles.c.group_id))
        .order_by(group_roles.c.role)
    )
)


class SqlRoleRows:
    """``user_roles`` and ``group_roles``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _table(self, principal: str) -> tuple[Table, Column[str], dict[str, str]]:
        if principal == "user":
            return user_roles, user_roles.c.user_id, {"source": ASSIGNED}
        if principal == "group":
            return group_roles, group_roles.c.group_id, {}
        raise ValueError(f"roles are held by a user or a group, not a {principal!r}")

    def assign(self, principal: str, id: str, role: Role) -> bool:
        """Give a ``user`` or ``group`` a role; tell whether it did not hold it already."""
        table, key, extra = self._table(principal)
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        values: dict[str, Any] = {key.name: id, "role": role.value, **extra}
        if principal == "user":  # the holder's creation time goes with the row (ADR 0052)
            values["user_created"] = select(users.c.created).where(users.c.id == id).scalar_subquery()
        statement = dialect.insert(table).values(values).on_conflict_do_nothing()
        # RETURNING, not rowcount: SQLAlchemy does not promise an INSERT's rowcount (psycopg reports -1).
        return self._connection.execute(statement.returning(key)).first() is not None

    def unassign(self, principal: str, id: str, role: Role) -> bool:
        """Take an assigned role from a ``user`` or ``group``; tell whether it held it."""
        table, key, extra = self._table(principal)
        conditions = [key == id, table.c.role == role.value, *(table.c[k] == v for k, v in extra.items())]
        return self._connection.execute(delete(table).where(*conditions)).rowcount > 0

    def grants(self, user_ids: Sequence[str]) -> dict[str, list[RoleGrant]]:
        """Return every grant of each user: direct, then through each group it reaches (ADR 0038).

        A group is reached when the user is a member, or a member of a member group,
        up to ``MAX_NESTING`` levels. One query per chunk of users.
        """
        found: dict[str, list[RoleGrant]] = {user_id: [] for user_id in user_ids}
        for user_id, role, source, group_id, group_name, group_urn in _GRANTS.rows(
            self._connection, user_ids
        ):
            group = GroupRef(group_id, group_name, group_urn) if group_id is not None else None
            found[user_id].append(RoleGrant(Role(role), source, group))
        return found

    def of_groups(self, group_ids: Sequence[str]) -> dict[str, list[Role]]:
        """Return the roles assigned to each group."""
        found: dict[str, list[Role]] = {group_id: [] for group_id in group_ids}
        for group_id, role in _GROUP_ROLES.rows(self._connection, group_ids):
            found[group_id].append(Role(role))
        return found

    def direct_page(self, role: Role, kind: str, seek: Seek, limit: int) -> Page[tuple[str, tuple[str, ...]]]:
        """Return one keyset page of the ``user``s or ``group``s holding ``role`` directly, by id.

        Each item is an id and its sources, the page's keys are ``(id,)``. One range of the
        ``(role, id)`` index a page (ADR 0045): as cheap with a million holders as with five.
        """
        table, key, _ = self._table(kind)
        down = seek.backward
        ids = select(key).where(table.c.role == role.value).distinct()
        if seek.after is not None:
            ids = ids.where(key < seek.after[0] if down else key > seek.after[0])
        found = list(
            self._connection.execute(ids.order_by(key.desc() if down else key).limit(limit + 1)).scalars()
        )
        more, found = len(found) > limit, sorted(found[:limit])
        sources: dict[str, list[str]] = {id: [] for id in found}
        if kind == "user" and found:
            rows = select(key, user_roles.c.source).where(table.c.role == role.value, key.in_(found))
            for id, source in self._connection.execute(rows.order_by(user_roles.c.source)):
                sources[id].append(source)
        items = [(id, tuple(sources[id]) or (ASSIGNED,)) for id in found]
        return Page(-1, items, [(id,) for id in found], more)

    def holders(self, role: Role) -> RoleHolders:
        """Return the users and groups that hold ``role`` directly."""
        users = self._connection.execute(
            select(user_roles.c.user_id, user_roles.c.source)
            .where(user_roles.c.role == role.value)
            .order_by(user_roles.c.user_id, user_roles.c.source)
        )
        holders = self._connection.execute(
            select(group_roles.c.group_id)
            .where(group_roles.c.role == role.value)
            .order_by(group_roles.c.group_id)
        )
        return RoleHolders([(u, s) for u, s in users], list(holders.scalars()))
