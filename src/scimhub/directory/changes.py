"""What every write shares: versions, preconditions and the events a change implies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.domain.roles import Role
from scimhub.errors import PreconditionFailed


def check_version(kind: str, id: str, stored: int, expected: frozenset[int] | None) -> None:
    """Refuse a write whose ``If-Match`` names other versions (RFC 7644 §3.14).

    :raises PreconditionFailed: When ``expected`` is given and lacks ``stored``.
    """
    if expected is not None and stored not in expected:
        raise PreconditionFailed(f"{kind} {id} is at version {stored}; If-Match names another version")


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
            entity_type, urn, Category.ATTRIBUTE, Operation.MODIFY, actor, now, parameters={"attributes": changed}
        )


def role_events(
    urn: str, old: frozenset[Role], new: frozenset[Role], actor: str, now: int, entity_type: str = "corpuser"
) -> Iterator[ChangeEvent]:
    """Yield one ROLE_MEMBERSHIP event per role gained or lost, the role's URN as modifier."""
    for operation, roles in ((Operation.ADD, new - old), (Operation.REMOVE, old - new)):
        for role in sorted(roles):
            yield ChangeEvent(entity_type, urn, Category.ROLE_MEMBERSHIP, operation, actor, now, modifier=role.urn)
