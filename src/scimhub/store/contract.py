"""What the directory needs from storage, and the rules every store keeps.

Rules (``store/testing.py`` checks each one against every implementation):

- All work happens inside ``Store.transaction()`` (writes) or ``Store.read()``;
  a transaction that raises is rolled back whole: no partial writes.
- Records returned are immutable values; changing one changes nothing stored.
- ``insert`` and ``update`` raise ``Uniqueness`` when a userName or group
  displayName is taken, compared case-insensitively; the database enforces it,
  so two concurrent creators cannot both win.
- ``get(..., for_update=True)`` locks the row until the transaction ends, so a
  read-modify-write (PATCH) cannot lose a concurrent update.
- Membership changes are set deltas on rows: their cost does not grow with the
  size of the group, and nothing reads the whole group to change one member.
- Events appended in a transaction are committed with it, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from scimhub.domain.events import ChangeEvent
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.domain.users import User

if TYPE_CHECKING:
    from scimhub.scim.filters import Filter
    from scimhub.scim.paths import AttrRef

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """A search: filter, order and one page of results (RFC 7644 §3.4.2)."""

    filter: Filter | None = None
    sort_by: AttrRef | None = None
    descending: bool = False
    offset: int = 0
    """Zero-based index of the first result (SCIM's startIndex − 1)."""
    limit: int = 100
    """At most this many results; 0 asks for the total only."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of search results and the number of all matches."""

    total: int
    items: Sequence[T]


@dataclass(frozen=True)
class GroupRef:
    """A group as seen from one of its members."""

    id: str
    display_name: str


@dataclass(frozen=True)
class RoleGrant:
    """Why a user holds a role."""

    role: Role
    source: str
    """``provisioned`` (SCIM ``roles``), ``assigned`` (by an administrator) or ``group``."""
    group: GroupRef | None = None
    """The group the role comes through, for source ``group``."""


@dataclass(frozen=True)
class RoleHolders:
    """Who holds a role directly."""

    users: list[tuple[str, str]]
    """(user id, source) pairs."""
    groups: list[str]
    """Group ids."""


@dataclass(frozen=True)
class TokenRecord:
    """A stored personal access token: everything but the token itself."""

    id: str
    hash: str
    name: str
    description: str | None
    actor_id: str
    owner_id: str
    created: int
    expires: int | None
    last_used: int | None


class UserRows(Protocol):
    """Users."""

    def get(self, id: str, *, for_update: bool = False) -> User | None:
        """Return the user with this SCIM id, or None."""

    def get_by_name(self, user_name: str) -> User | None:
        """Return the user whose userName equals ``user_name`` in any case, or None."""

    def insert(self, user: User) -> None:
        """Store a new user. :raises Uniqueness: When the userName is taken."""

    def update(self, user: User) -> None:
        """Overwrite a stored user. :raises Uniqueness: When the new userName is taken."""

    def delete(self, id: str) -> bool:
        """Delete a user and its memberships; tell whether it existed."""

    def search(self, query: Query) -> Page[User]:
        """Return the users that match ``query``, in its order."""

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """Return the userName of each of ``ids`` that names a stored user."""


class GroupRows(Protocol):
    """Groups, without their members."""

    def get(self, id: str, *, for_update: bool = False) -> Group | None:
        """Return the group with this SCIM id, or None."""

    def insert(self, group: Group) -> None:
        """Store a new group. :raises Uniqueness: When the displayName is taken."""

    def update(self, group: Group) -> None:
        """Overwrite a stored group. :raises Uniqueness: When the new displayName is taken."""

    def delete(self, id: str) -> bool:
        """Delete a group and its membership rows; tell whether it existed."""

    def search(self, query: Query) -> Page[Group]:
        """Return the groups that match ``query``, in its order."""

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """Return the displayName of each of ``ids`` that names a stored group."""


class MemberRows(Protocol):
    """Group membership, one row per (group, member)."""

    def members(self, group_id: str) -> Iterator[Member]:
        """Yield a group's members in a stable order, streaming from the database."""

    def groups_of(self, member_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Return, for each of ``member_ids``, the groups it directly belongs to."""

    def apply(self, group_id: str, change: MemberChange) -> tuple[set[str], set[str]]:
        """Apply a set delta; return the member ids really added and really removed."""


class RoleRows(Protocol):
    """Role assignments made by administrators, and every user's grants."""

    def assign(self, principal: str, id: str, role: Role) -> bool:
        """Give a ``user`` or ``group`` a role; tell whether it did not hold it already."""

    def unassign(self, principal: str, id: str, role: Role) -> bool:
        """Take an assigned role from a ``user`` or ``group``; tell whether it held it."""

    def grants(self, user_ids: Sequence[str]) -> dict[str, list[RoleGrant]]:
        """Return every grant of each user: direct, then through each of its groups."""

    def of_groups(self, group_ids: Sequence[str]) -> dict[str, list[Role]]:
        """Return the roles assigned to each group."""

    def holders(self, role: Role) -> RoleHolders:
        """Return the users and groups that hold ``role`` directly."""


class TokenRows(Protocol):
    """Personal access tokens."""

    def insert(self, token: TokenRecord) -> None:
        """Store a token record."""

    def find(self, hash: str) -> TokenRecord | None:
        """Return the token whose hash is ``hash``, or None."""

    def get(self, id: str) -> TokenRecord | None:
        """Return the token with this id, or None."""

    def list(self, actor_id: str | None = None) -> list[TokenRecord]:
        """Return all tokens (or one actor's), newest first."""

    def delete(self, id: str) -> bool:
        """Revoke a token; tell whether it existed."""

    def touch(self, id: str, now: int) -> None:
        """Record that the token was used at ``now``."""


class SecretRows(Protocol):
    """Server secrets generated once and shared by every process."""

    def get_or_create(self, name: str, value: str) -> str:
        """Return the stored secret ``name``, storing ``value`` first if there is none."""


class EventLog(Protocol):
    """The change outbox."""

    def append(self, events: Iterable[ChangeEvent]) -> None:
        """Append events to be committed with the current transaction."""


class Transaction(Protocol):
    """One unit of work over every kind of row."""

    users: UserRows
    groups: GroupRows
    members: MemberRows
    roles: RoleRows
    tokens: TokenRows
    secrets: SecretRows
    events: EventLog


class Store(Protocol):
    """A database."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a write transaction; commit on success, roll back on any error."""

    def read(self) -> AbstractContextManager[Transaction]:
        """Open a read-only transaction (a consistent snapshot where the engine has one)."""

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
