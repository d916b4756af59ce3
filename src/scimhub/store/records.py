"""The values stores hand back and take: immutable records, with no behaviour of their own.

``contract.py`` says what a store does with them; changing a record changes nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from scimhub.domain.roles import Role
from scimhub.domain.tokens import Revoked


@dataclass(frozen=True)
class GroupRef:
    """A group as seen from one of its members."""

    id: str
    display_name: str
    urn: str
    """The group's DataHub URN, the one from its creation (ADR 0037)."""


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
    """The user the token acts as; deleting that user deletes the token."""
    owner_id: str | None
    """The user who created the token; None once that user is deleted (the token lives on)."""
    created: int
    expires: int | None
    last_used: int | None


@dataclass(frozen=True)
class Credential:
    """What authenticating a token reads, as of one instant: the token, its user and the user's roles."""

    token_id: str
    expires: int | None
    last_used: int | None
    user_id: str
    urn: str
    user_name: str
    active: bool
    roles: tuple[str, ...]
    """The user's roles, direct and through its groups (a role may repeat)."""

    def grants_as(self, other: Credential) -> bool:
        """Whether ``other`` authenticates as this does: the same token, expiry, user, state and roles.

        ``last_used`` aside, which authentication writes and never reads to decide (ADR 0083); and the
        ``user_name``, which no decision reads either: the actor is its id and its URN, kept through
        renames (ADR 0008). A rename, one's own included, leaves a credential granting what it did
        (ADR 0086).
        """
        return (
            self.token_id == other.token_id
            and self.expires == other.expires
            and (self.user_id, self.urn, self.active) == (other.user_id, other.urn, other.active)
            and set(self.roles) == set(other.roles)
        )


@dataclass(frozen=True)
class SessionRecord:
    """A console session (ADR 0030): everything but its secret, which only the browser's cookie holds."""

    hash: str
    """``sha256`` of the cookie's secret, hex."""
    user_id: str
    password_mark: str
    """A digest of the user's password hash at sign-in: a new password ends the session."""
    created: int
    last_seen: int


@dataclass(frozen=True)
class Sealed:
    """What a session holds for its browser to reveal once (ADR 0048): useless without the browser's pad."""

    blob: str
    """``base64(message XOR pad)``; the pad is in the browser's cookie alone."""
    at: int
    """When it was sealed, microseconds."""


@dataclass(frozen=True)
class FailureRecord:
    """The recent sign-in failures of one key, a user name or an address (ADR 0030, ADR 0048)."""

    digest: str
    """``sha256`` of the key, hex: a name mistyped into the wrong box is never stored in clear."""
    failures: tuple[int, ...]
    """The times of the failures still within the window, oldest first; fewer than the policy's number."""
    locked_until: int
    """Microseconds; the key is locked before it (0: never locked)."""
    expires: int
    """When the window and the lock are both over: the row means nothing after it and may be pruned."""


@dataclass(frozen=True)
class ResetRecord:
    """A one-time password-reset link (ADR 0033): everything but its secret."""

    hash: str
    """``sha256`` of the link's secret, hex."""
    user_id: str
    created_by: str
    """The URN of the administrator who issued it."""
    created: int
    expires: int


@dataclass(frozen=True)
class Revocation:
    """What is kept of a revoked token: no hash, only enough to say why it is refused."""

    token_id: str
    actor_id: str
    reason: Revoked
    at: int


@dataclass(frozen=True)
class FeedState:
    """Where the event feed stands, as one read transaction sees it."""

    stream: str
    """Random id of this database's feed; offsets carry it, so one of another database is refused."""
    pruned_through: int
    """The highest ``seq`` retention has deleted (0: none)."""
    head: int
    """The highest ``seq`` committed, or ``pruned_through`` when no event is left."""


@dataclass(frozen=True)
class EventQuery:
    """Which recorded events an audit asks for; every field given narrows the result."""

    entity_urn: str | None = None
    actor: str | None = None
    """The URN of the user whose token made the change."""
    category: str | None = None
    since: int | None = None
    """Microseconds since the epoch, inclusive."""
    until: int | None = None
    """Microseconds since the epoch, exclusive."""
    after: int | None = None
    """Only events with a larger ``seq``."""
    before: int | None = None
    """Only events with a smaller ``seq``."""
    oldest_first: bool = False
    limit: int = 100


@dataclass(frozen=True)
class PushState:
    """Where a push to DataHub stands: its checkpoint, its lease and how it went (ADR 0013)."""

    name: str
    last_seq: int
    """Every event up to this ``seq`` has been pushed."""
    leader: str | None
    """The process that holds the lease to push, if any."""
    lease_until: int | None
    """Microseconds since the epoch; after it, another process may take the lease."""
    last_success: int | None
    last_error: str | None
    """What the last failed push said, with what to fix; cleared by the next success."""
    last_error_at: int | None
    failures: int
    """Failed pushes since the last success."""
    halted: bool
    """The last error cannot pass by retrying (a refused token, a wrong URL): pushing stopped."""


@dataclass(frozen=True)
class PushedEntity:
    """A user or group as the push last wrote it into DataHub."""

    urn: str
    entity_type: str
    """``corpuser`` or ``corpGroup``."""
    scim_id: str
    groups: tuple[str, ...] = ()
    """For a user: the group URNs of the ``groupMembership`` it got."""
