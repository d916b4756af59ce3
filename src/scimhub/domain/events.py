"""Change events: what every write records, in DataHub's EntityChangeEvent terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """DataHub's change categories we emit (see refs: datahub-events-and-sdk)."""

    LIFECYCLE = "LIFECYCLE"
    GROUP_MEMBERSHIP = "GROUP_MEMBERSHIP"
    ROLE_MEMBERSHIP = "ROLE_MEMBERSHIP"
    ATTRIBUTE = "ATTRIBUTE"


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
