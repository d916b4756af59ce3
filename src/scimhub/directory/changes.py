"""What every write shares: versions, preconditions and the events a change implies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.domain.roles import Role
from scimhub.domain.versions import Versions, etag
from scimhub.errors import NotFound, PreconditionFailed
from scimhub.store.contract import EventLog, GroupRows, UserRows


def check_version(kind: str, id: str, stored: int, expected: Versions | None) -> None:
    """Refuse a write whose ``If-Match`` or ``If-None-Match`` excludes the stored version (RFC 7644 §3.14).

    :raises PreconditionFailed: When ``expected`` is given and lacks ``stored``.
    """
    if expected is not None and stored not in expected:
        raise PreconditionFailed(
            f"{kind} {id} is at version {stored} (ETag {etag(stored)}),"
            " which the request's If-Match or If-None-Match header excludes"
        )


def changed_attributes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Return the top-level attribute names whose values differ, sorted."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def attribute_events(
    entity_type: str, urn: str, old: dict[str, Any], new: dict[str, Any], actor: str, now: int
) -> Iterator[ChangeEvent]:
    """Yield the events for a change of stored attributes.

    A change of ``active`` is a lifecycle event (DataHub's SOFT_DELETE / REINSTATE of
    a suspended or reactivated user); any other change is one ATTRIBUTE event that
    names the attributes.
    """
    changed = [key for key in changed_attributes(old, new) if key != "roles"]  # roles: see role_events
    was_active, is_active = old.get("active") is not False, new.get("active") is not False
    if was_active != is_active:
        changed.remove("active")
        operation = Operation.REINSTATE if is_active else Operation.SOFT_DELETE
        yield ChangeEvent(entity_type, urn, Category.LIFECYCLE, operation, actor, now)
    if changed:
        yield ChangeEvent(
            entity_type,
            urn,
            Category.ATTRIBUTE,
            Operation.MODIFY,
            actor,
            now,
            parameters={"attributes": changed},
        )


def creation_events(
    entity_type: str, urn: str, doc: dict[str, Any], actor: str, now: int
) -> Iterator[ChangeEvent]:
    """Yield the events of a new user or group: CREATE, then SOFT_DELETE when it is created inactive.

    A consumer that keeps state from the feed must learn that a user provisioned
    with ``active: false`` is suspended, as DataHub's ``status.removed`` would say.
    """
    yield ChangeEvent(entity_type, urn, Category.LIFECYCLE, Operation.CREATE, actor, now)
    if doc.get("active") is False:
        yield ChangeEvent(entity_type, urn, Category.LIFECYCLE, Operation.SOFT_DELETE, actor, now)


def role_events(
    urn: str,
    old: frozenset[Role],
    new: frozenset[Role],
    actor: str,
    now: int,
    entity_type: str = "corpuser",
    source: str = "provisioned",
) -> Iterator[ChangeEvent]:
    """Yield one ROLE_MEMBERSHIP event per role gained or lost (ADR 0010).

    The role's URN is the ``modifier`` and ``parameters.roleUrn``; ``parameters.source``
    says which grant changed, ``provisioned`` (SCIM ``roles``) or ``assigned`` (by an
    administrator): a user can hold a role both ways and lose only one.
    """
    for operation, roles in ((Operation.ADD, new - old), (Operation.REMOVE, old - new)):
        for role in sorted(roles):
            yield ChangeEvent(
                entity_type,
                urn,
                Category.ROLE_MEMBERSHIP,
                operation,
                actor,
                now,
                modifier=role.urn,
                parameters={"roleUrn": role.urn, "source": source},
            )


def membership_events(
    group_urn: str,
    members: dict[str, tuple[str, str]],
    added: set[str],
    removed: set[str],
    actor: str,
    now: int,
) -> Iterator[ChangeEvent]:
    """Yield one GROUP_MEMBERSHIP event per member really added or removed (ADR 0010).

    ``members`` maps each member id to its entity type and URN; the event's entity
    is the member (DataHub keeps membership on the user's ``groupMembership``) and
    the group's URN is the ``modifier`` and ``parameters.groupUrn``.
    """
    for operation, ids in ((Operation.ADD, added), (Operation.REMOVE, removed)):
        for member_id in sorted(ids):
            if member_id in members:
                entity_type, urn = members[member_id]
                yield ChangeEvent(
                    entity_type,
                    urn,
                    Category.GROUP_MEMBERSHIP,
                    operation,
                    actor,
                    now,
                    modifier=group_urn,
                    parameters={"groupUrn": group_urn},
                )


def hard_delete(
    rows: UserRows | GroupRows,
    events: EventLog,
    kind: str,
    entity_type: str,
    id: str,
    expected: Versions | None,
    actor: str,
    now: int,
) -> None:
    """Delete a user or group for good, under a row lock, and append its HARD_DELETE event.

    The lock waits for every write that is adding the record as a member or
    giving it a role, and holds off those that come later (they find no record):
    no membership row or ADD event outlives the record (ADR 0020).

    :raises NotFound: When there is no such record.
    :raises PreconditionFailed: When ``expected`` does not hold the stored version.
    """
    record = rows.get(id, for_delete=True)
    if record is None:
        raise NotFound(f"{kind} {id} not found")
    check_version(kind, id, record.version, expected)
    rows.delete(id)
    events.append(
        [ChangeEvent(entity_type, record.urn, Category.LIFECYCLE, Operation.HARD_DELETE, actor, now)]
    )
