"""Groups: DataHub's ``corpGroup``, with membership kept as rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


def group_urn(display_name: str) -> str:
    """Return the DataHub URN of a group: ``urn:li:corpGroup:<displayName>``."""
    return "urn:li:corpGroup:" + quote(display_name, safe="@.-_+~!*'=:;&$/ ")


@dataclass(frozen=True)
class Member:
    """One member of a group: a user (or a group) by SCIM id."""

    value: str
    type: str = "User"
    display: str | None = None


@dataclass(frozen=True)
class MemberChange:
    """A set delta on a group's membership; applied as row inserts and deletes.

    ``clear`` runs first, then ``remove``, then ``add``; a member both removed and
    added ends up a member.
    """

    clear: bool = False
    add: tuple[Member, ...] = ()
    remove: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        """Tell whether applying the change would touch no row."""
        return not (self.clear or self.add or self.remove)


@dataclass(frozen=True)
class Group:
    """A stored group; its members live in their own rows, never in ``doc``."""

    id: str
    doc: dict[str, Any]
    version: int
    created: int
    last_modified: int
    created_urn: str | None = None
    """The URN made from the displayName the group was created with; it never changes,
    not even when the displayName does (ADR 0037). None for a record not stored yet."""

    @property
    def display_name(self) -> str:
        """Return the SCIM displayName."""
        return str(self.doc["displayName"])

    @property
    def urn(self) -> str:
        """Return the group's ``urn:li:corpGroup:`` URN: the one from creation (ADR 0037).

        DataHub's ``corpGroupKey`` is immutable, so a renamed group (Okta renames pushed
        groups routinely) keeps its URN, its memberships, roles and ownerships; a record
        not stored yet takes the URN of its displayName.
        """
        return self.created_urn if self.created_urn is not None else group_urn(self.display_name)
