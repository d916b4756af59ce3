"""Change events: what every write records, in DataHub's EntityChangeEvent terms.

The vocabulary is DataHub's where DataHub has one (LIFECYCLE CREATE / SOFT_DELETE /
REINSTATE / HARD_DELETE); membership and attribute changes, for which DataHub
defines no EntityChangeEvent category, use the categories below, documented in
ADR 0010 (membership) and ADR 0006 (attributes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """The change categories we emit (docs/datahub.md §6.2)."""

    LIFECYCLE = "LIFECYCLE"
    """DataHub's own: CREATE, SOFT_DELETE (suspended), REINSTATE (reactivated), HARD_DELETE."""
    GROUP_MEMBERSHIP = "GROUP_MEMBERSHIP"
    """Ours (ADR 0010): the entity joined (ADD) or left (REMOVE) the group named by ``modifier``."""
    ROLE_MEMBERSHIP = "ROLE_MEMBERSHIP"
    """Ours (ADR 0010): the entity gained (ADD) or lost (REMOVE) the role named by ``modifier``."""
    ATTRIBUTE = "ATTRIBUTE"
    """Ours (ADR 0006): MODIFY, ``parameters.attributes`` lists the SCIM attributes changed."""


class Operation(StrEnum):
    """DataHub's change operations."""

    CREATE = "CREATE"
    MODIFY = "MODIFY"
    ADD = "ADD"
    REMOVE = "REMOVE"
    SOFT_DELETE = "SOFT_DELETE"
    REINSTATE = "REINSTATE"
    HARD_DELETE = "HARD_DELETE"


@dataclass(frozen=True)
class ChangeEvent:
    """One change to one entity, appended in the transaction that made it."""

    entity_type: str
    """``corpuser`` or ``corpGroup``."""
    entity_urn: str
    category: Category
    operation: Operation
    actor: str
    """URN of the user whose token made the change."""
    time: int
    """Microseconds since the epoch."""
    modifier: str | None = None
    """The other end of a relationship change (the group of a membership), if any."""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedEvent:
    """A committed change event and its place in the feed."""

    seq: int
    """Its position: larger for every event committed later (ADR 0011)."""
    event: ChangeEvent
