"""Use cases on roles: who holds what, directly or through groups, and assignments.

DataHub's rule for managing roles: be an Admin or hold MANAGE_POLICIES
(DataHub's docs/authorization/roles.md; docs/datahub.md §2.4); Admin holds every privilege, so the check is
MANAGE_POLICIES.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scimhub.directory.actors import Actor
from scimhub.directory.changes import role_events
from scimhub.directory.users import Clock
from scimhub.domain.roles import Privilege, Role
from scimhub.errors import NotFound
from scimhub.query.pages import Page, Seek
from scimhub.store.contract import Store, Transaction
from scimhub.store.records import RoleGrant


@dataclass(frozen=True)
class UserRoles:
    """A user's roles: direct grants, grants through groups, and their union."""

    direct: tuple[RoleGrant, ...]
    inherited: tuple[RoleGrant, ...]

    @property
    def effective(self) -> tuple[Role, ...]:
        """Return every role the user holds, highest first."""
        roles = {grant.role for grant in (*self.direct, *self.inherited)}
        return tuple(sorted(roles, key=lambda role: -role.rank))


def split_grants(grants: Sequence[RoleGrant]) -> UserRoles:
    """Return grants split into direct ones and the ones that come through groups."""
    return UserRoles(
        tuple(g for g in grants if g.source != "group"),
        tuple(g for g in grants if g.source == "group"),
    )


@dataclass(frozen=True)
class Holder:
    """A user or group that holds a role directly."""

    kind: str
    """``user`` or ``group``."""
    id: str
    name: str
    urn: str
    """The stored URN, which a rename does not change (ADR 0008 for users, ADR 0037 for groups)."""
    source: str
    """``provisioned`` or ``assigned`` for users, ``assigned`` for groups."""


class Roles:
    """Read and manage role assignments."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def of_users(self, user_ids: Sequence[str]) -> dict[str, UserRoles]:
        """Return the roles of each user, in one query."""
        with self._store.read() as tx:
            grants = tx.roles.grants(user_ids)
        return {user_id: split_grants(found) for user_id, found in grants.items()}

    def of_groups(self, group_ids: Sequence[str]) -> dict[str, list[Role]]:
        """Return the roles assigned to each group, in one query."""
        with self._store.read() as tx:
            return tx.roles.of_groups(group_ids)

    def holders(self, role: Role) -> list[Holder]:
        """Return the users and groups that hold ``role`` directly, users first."""
        with self._store.read() as tx:
            found = tx.roles.holders(role)
            user_ids = [u for u, _ in found.users]
            user_names, user_urns = tx.users.names(user_ids), tx.users.urns(user_ids)
            group_names, group_urns = tx.groups.names(found.groups), tx.groups.urns(found.groups)
        users = [
            Holder("user", u, user_names.get(u, ""), user_urns.get(u, ""), source)
            for u, source in found.users
        ]
        groups = [
            Holder("group", g, group_names.get(g, ""), group_urns.get(g, ""), "assigned")
            for g in found.groups
        ]
        return users + groups

    def direct_page(self, role: Role, kind: str, seek: Seek, limit: int) -> Page[Holder]:
        """Return one page, by id, of the ``user``s or ``group``s that hold ``role`` directly (ADR 0045)."""
        with self._store.read() as tx:
            found = tx.roles.direct_page(role, kind, seek, limit)
            ids = [id for id, _ in found.items]
            rows = tx.users if kind == "user" else tx.groups
            names, urns = rows.names(ids), rows.urns(ids)
        holders = [
            Holder(kind, id, names.get(id, ""), urns.get(id, ""), ", ".join(sources))
            for id, sources in found.items
        ]
        return Page(found.total, holders, found.keys, found.more)

    def assign(self, actor: Actor, role: Role, principal: str, id: str) -> bool:
        """Give a user or group a role; tell whether it is new.

        :raises Forbidden: Without MANAGE_POLICIES.
        :raises NotFound: When no such user or group exists.
        """
        return self._change(actor, role, principal, id, assign=True)

    def unassign(self, actor: Actor, role: Role, principal: str, id: str) -> bool:
        """Take an assigned role from a user or group; tell whether it held it.

        Roles provisioned through SCIM stay: the identity provider owns them.

        :raises Forbidden: Without MANAGE_POLICIES.
        :raises NotFound: When no such user or group exists.
        """
        return self._change(actor, role, principal, id, assign=False)

    def _change(self, actor: Actor, role: Role, principal: str, id: str, *, assign: bool) -> bool:
        actor.require(Privilege.MANAGE_POLICIES, "Managing roles")
        with self._store.transaction() as tx:
            urn, entity_type = _principal_urn(tx, principal, id)
            changed = (
                tx.roles.assign(principal, id, role) if assign else tx.roles.unassign(principal, id, role)
            )
            if changed:
                before, after = (
                    (frozenset(), frozenset({role})) if assign else (frozenset({role}), frozenset())
                )
                events = role_events(urn, before, after, actor.urn, self._clock(), entity_type, "assigned")
                tx.events.append(events)
        return changed


def _principal_urn(tx: Transaction, principal: str, id: str) -> tuple[str, str]:
    """Return the URN and entity type of the role's holder, held against deletion until the commit (ADR 0020).

    :raises NotFound: When there is no such user or group, or it was deleted meanwhile.
    """
    if principal == "user":
        urns = tx.users.urns([id], refer=True)
        if id not in urns:
            raise NotFound(f"User {id} not found")
        return urns[id], "corpuser"
    group_urns = tx.groups.urns([id], refer=True)
    if id not in group_urns:
        raise NotFound(f"Group {id} not found")
    return group_urns[id], "corpGroup"
