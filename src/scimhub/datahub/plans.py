"""What one push writes: the current state of the entities a batch touched, read in one transaction.

The pusher does not replay events: it learns from them only *which* users and
groups changed (``entity_type`` and ``entity_urn``), then reads each one's
current state and writes it whole (ADR 0013). So it depends on no event's
payload, a batch that touched a user ten times pushes it once, and a user gone
from the store is deleted from DataHub.

A group that is gone, renamed (its URN is made from its displayName) or whose
name now belongs to another group still appears in the ``groupMembership`` of
the users DataHub was told were its members; the record of what was pushed
(``datahub_pushed_*``) names them, and they are pushed again without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scimhub.datahub.mapping import (
    Change,
    GroupState,
    Removal,
    UserState,
    group_proposals,
    manager_id,
    user_proposals,
)
from scimhub.domain.groups import Group
from scimhub.domain.users import User
from scimhub.store.contract import Transaction
from scimhub.store.records import PushedEntity


@dataclass(frozen=True)
class Plan:
    """The entities to write whole into DataHub and the ones to delete from it."""

    groups: Sequence[GroupState] = ()
    users: Sequence[UserState] = ()
    gone_users: Sequence[str] = ()
    gone_groups: Sequence[str] = ()
    touched: int = field(default=0, compare=False)
    """How many entities it covers (for progress)."""

    def changes(self, origin: str) -> list[Change]:
        """Return the changes in the order DataHub wants them.

        Groups come before the users that name them, and a group is deleted only
        after its former members were written without it, as DataHub's SCIM
        server does (docs/datahub.md §4.6).
        """
        found: list[Change] = []
        for group in self.groups:
            found.extend(group_proposals(group, origin))
        for user in self.users:
            found.extend(user_proposals(user, origin))
        found.extend(Removal("corpuser", urn) for urn in self.gone_users)
        found.extend(Removal("corpGroup", urn) for urn in self.gone_groups)
        return found

    def pushed(self) -> list[PushedEntity]:
        """Return what DataHub holds once the plan is pushed, for the record."""
        groups = [PushedEntity(g.group.urn, "corpGroup", g.group.id) for g in self.groups]
        users = [PushedEntity(u.user.urn, "corpuser", u.user.id, u.groups) for u in self.users]
        return groups + users

    def removed(self) -> list[str]:
        """Return the URNs the plan deletes from DataHub."""
        return [*self.gone_users, *self.gone_groups]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def plan_touched(tx: Transaction, touched: Iterable[tuple[str, str]], skip: frozenset[str]) -> Plan:
    """Return the plan for the ``(entity_type, urn)`` pairs a batch of events touched.

    ``skip`` names users never pushed (the built-in administrator).
    """
    pairs = list(touched)
    group_urns = _unique(urn for kind, urn in pairs if kind == "corpGroup")
    present = tx.push.groups_by_urn(group_urns)
    # The URNs these groups were pushed under before a rename are stale too.
    earlier = tx.push.pushed_as([g.id for g in present.values()])
    group_urns = _unique([*group_urns, *(urn for urns in earlier.values() for urn in urns)])
    present |= tx.push.groups_by_urn([urn for urn in group_urns if urn not in present])
    pushed_ids = tx.push.pushed(group_urns)
    gone_groups = [urn for urn in group_urns if urn not in present]
    stale = gone_groups + [urn for urn, id in pushed_ids.items() if urn in present and present[urn].id != id]
    user_urns = [urn for kind, urn in pairs if kind == "corpuser"] + tx.push.pushed_members(stale)
    user_urns = [urn for urn in _unique(user_urns) if urn not in skip]
    users = tx.push.users_by_urn(user_urns)
    return Plan(
        groups=group_states(tx, [present[urn] for urn in group_urns if urn in present]),
        users=user_states(tx, [users[urn] for urn in user_urns if urn in users]),
        gone_users=[urn for urn in user_urns if urn not in users],
        gone_groups=gone_groups,
        touched=len(group_urns) + len(user_urns),
    )


def plan_gone(tx: Transaction, pushed: Sequence[PushedEntity]) -> Plan:
    """Return the plan that deletes those of ``pushed`` no stored user or group has the URN of."""
    users = tx.push.users_by_urn([e.urn for e in pushed if e.entity_type == "corpuser"])
    groups = tx.push.groups_by_urn([e.urn for e in pushed if e.entity_type == "corpGroup"])
    gone_users = [e.urn for e in pushed if e.entity_type == "corpuser" and e.urn not in users]
    gone_groups = [e.urn for e in pushed if e.entity_type == "corpGroup" and e.urn not in groups]
    return Plan(gone_users=gone_users, gone_groups=gone_groups, touched=len(gone_users) + len(gone_groups))


def user_states(tx: Transaction, users: Sequence[User]) -> list[UserState]:
    """Return the state of each user: its groups, its direct roles and its manager, in three queries."""
    ids = [user.id for user in users]
    groups = tx.members.groups_of(ids) if ids else {}
    grants = tx.roles.grants(ids) if ids else {}
    managers = tx.users.urns(m for m in map(manager_id, users) if m is not None)
    states = []
    for user in users:
        direct = {grant.role for grant in grants[user.id] if grant.source != "group"}
        manager = manager_id(user)
        states.append(
            UserState(
                user,
                tuple(ref.urn for ref in groups[user.id]),
                tuple(sorted(direct, key=lambda role: -role.rank)),
                managers.get(manager) if manager is not None else None,
            )
        )
    return states


def group_states(tx: Transaction, groups: Sequence[Group]) -> list[GroupState]:
    """Return the state of each group: its roles, in one query."""
    roles = tx.roles.of_groups([group.id for group in groups]) if groups else {}
    return [
        GroupState(group, tuple(sorted(roles[group.id], key=lambda role: -role.rank))) for group in groups
    ]
