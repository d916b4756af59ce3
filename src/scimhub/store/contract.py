"""What the directory needs from storage, and the rules every store keeps.

Rules (``tests/store/contract_store.py`` checks each one against every implementation):

- All work happens inside ``Store.transaction()`` (writes) or ``Store.read()``;
  a transaction that raises is rolled back whole: no partial writes.
- Records returned are immutable values; changing one changes nothing stored.
- ``insert`` and ``update`` raise ``Uniqueness`` when a userName or group
  displayName is taken, compared case-insensitively; the database enforces it,
  so two concurrent creators cannot both win. A user's DataHub URN is unique too,
  and reads back as the record's ``created_urn`` (ADR 0008).
- ``get(..., for_update=True)`` locks the row until the transaction ends, so a
  read-modify-write (PATCH) cannot lose a concurrent update; ``for_delete=True``
  also waits for, and then holds off, writes that refer to the row.
- ``names(..., refer=True)`` / ``urns(..., refer=True)`` keep the records found
  from being deleted until the transaction ends: a membership or role row never
  names a deleted member, and its ADD event never follows the HARD_DELETE (ADR 0020).
- Membership changes are set deltas on rows: their cost does not grow with the
  size of the group, and nothing reads the whole group to change one member.
- Events appended in a transaction are committed with it, or not at all.
- Every committed event has a ``seq`` larger than that of every event committed
  before it, and no ``seq`` is handed out twice: a reader that follows ``seq``
  sees each committed event exactly once, in commit order (ADR 0011).
- Pruning and reading do not race: a read transaction sees the events and the
  pruning mark of one moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from scimhub.domain.events import ChangeEvent, RecordedEvent
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.domain.users import User
from scimhub.query.pages import Page, Query, Seek, Walk
from scimhub.query.paths import AttrRef
from scimhub.store.records import (
    Credential,
    EventQuery,
    FailureRecord,
    FeedState,
    GroupRef,
    PushedEntity,
    PushState,
    ResetRecord,
    Revocation,
    RoleGrant,
    RoleHolders,
    Sealed,
    SessionRecord,
    TokenRecord,
)

T = TypeVar("T")


class UserRows(Protocol):
    """Users."""

    def get(self, id: str, *, for_update: bool = False, for_delete: bool = False) -> User | None:
        """Return the user with this SCIM id, or None."""

    def get_by_name(self, user_name: str) -> User | None:
        """Return the user whose userName equals ``user_name`` in any case, or None."""

    def get_by_urn(self, urn: str) -> User | None:
        """Return the user whose stored DataHub URN is ``urn``, exactly, or None.

        The URN is the one from creation (ADR 0008): after a rename it still finds
        the user, and it never finds whoever holds the old userName now.
        """

    def insert(self, user: User) -> None:
        """Store a new user. :raises Uniqueness: When the userName or the URN is taken."""

    def update(self, user: User) -> None:
        """Overwrite a stored user, URN included. :raises Uniqueness: When the new userName is taken."""

    def delete(self, id: str) -> bool:
        """Delete a user and its memberships; tell whether it existed."""

    def search(
        self,
        query: Query,
        *,
        prefix: str | None = None,
        active: bool | None = None,
        role: Role | None = None,
        walk: Walk | None = None,
        with_groups: bool = False,
    ) -> Page[User]:
        """Return the users that match ``query``, in its order, narrowed as the console asks.

        ``prefix``: the userName, the displayName or an email starts with it, in
        any case. ``active``: the status. ``role``: the user holds it directly
        (provisioned or assigned) or through a group, among its effective roles.
        Each is read through an index, whatever the number of users. ``walk`` (a keyset
        page, uncounted, of a role without ``prefix``): look for the page among the next
        ``walk.rows`` users of the order first; a hint about cost, never about the answer.
        ``with_groups``: in ``Page.related``, the groups each user directly belongs to, read with
        the page: a lookup (``Query.is_lookup``) is then still one statement.
        """

    def sample_holders(self, role: Role, size: int, orders: Sequence[AttrRef]) -> list[tuple[Any, ...]]:
        """Return what each of ``orders`` sorts by, for up to ``size`` holders of ``role`` drawn at random."""

    def names(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the userName of each of ``ids`` that names a stored user."""

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored user (ADR 0008)."""


class GroupRows(Protocol):
    """Groups, without their members."""

    def get(self, id: str, *, for_update: bool = False, for_delete: bool = False) -> Group | None:
        """Return the group with this SCIM id, or None."""

    def get_by_name(self, display_name: str) -> Group | None:
        """Return the group whose displayName equals ``display_name`` in any case, or None."""

    def insert(self, group: Group) -> None:
        """Store a new group. :raises Uniqueness: When the displayName or the URN is taken."""

    def update(self, group: Group) -> None:
        """Overwrite a stored group, URN included. :raises Uniqueness: When the new displayName is taken."""

    def delete(self, id: str) -> bool:
        """Delete a group and its membership rows; tell whether it existed."""

    def search(self, query: Query) -> Page[Group]:
        """Return the groups that match ``query``, in its order."""

    def names(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the displayName of each of ``ids`` that names a stored group."""

    def urns(self, ids: Iterable[str], *, refer: bool = False) -> dict[str, str]:
        """Return the DataHub URN of each of ``ids`` that names a stored group (ADR 0037)."""


class MemberRows(Protocol):
    """Group membership, one row per (group, member)."""

    def members(
        self, group_id: str, limit: int | None = None, *, after: str | None = None, backward: bool = False
    ) -> Iterator[Member]:
        """Yield a group's members (the first ``limit`` only, if given) in member id order, streaming.

        ``after`` starts past that member id; ``backward`` reads the members before it, in descending order.
        """

    def counts(self, group_ids: Sequence[str]) -> dict[str, int]:
        """Return how many members each of ``group_ids`` has, counted in the database."""

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

    def direct_page(self, role: Role, kind: str, seek: Seek, limit: int) -> Page[tuple[str, tuple[str, ...]]]:
        """Return one keyset page, by id, of the ``user``s or ``group``s holding ``role`` directly.

        Each item is an id and its sources (``provisioned``, ``assigned``); ``Page.total`` is -1.
        """


class TokenRows(Protocol):
    """Personal access tokens."""

    def insert(self, token: TokenRecord) -> None:
        """Store a token record.

        :raises Conflict: When its user or its owner no longer exists (deleted meanwhile).
        """

    def get(self, id: str) -> TokenRecord | None:
        """Return the token with this id, or None."""

    def list(self, actor_id: str | None = None) -> list[TokenRecord]:
        """Return all tokens (or one actor's), newest first."""

    def revoke(self, id: str, now: int) -> bool:
        """Delete a token, remembering by id only that it was revoked at ``now``; tell whether it existed."""

    def revoke_all_of(self, actor_id: str, now: int) -> None:
        """Delete every token acting as ``actor_id`` (being deleted) and remember why, by id only."""

    def revocation(self, id: str) -> Revocation | None:
        """Return why and when the token ``id`` was revoked, or None when no revocation is remembered."""

    def touch(self, id: str, now: int) -> None:
        """Record that the token was used at ``now``."""


class SessionRows(Protocol):
    """Console sessions, kept as hashes of their secrets."""

    def insert(self, session: SessionRecord) -> None:
        """Store a new session."""

    def find(self, hash: str) -> SessionRecord | None:
        """Return the session whose hash is ``hash``, or None."""

    def touch(self, hash: str, now: int) -> None:
        """Record that the session was used at ``now``."""

    def delete(self, hash: str) -> bool:
        """End a session; tell whether it existed."""

    def delete_stale(self, created_before: int, seen_before: int) -> int:
        """End every session created before ``created_before`` or unused since ``seen_before``; count them."""

    def seal(self, hash: str, sealed: Sealed) -> bool:
        """Keep ``sealed`` on the session, replacing what it held; tell whether the session exists."""

    def unseal(self, hash: str) -> Sealed | None:
        """Return what the session holds and clear it, atomically; None when it holds nothing.

        Of two concurrent callers on one session at most one gets it.
        """


class FailureRows(Protocol):
    """Recent sign-in failures per key digest, shared by every process (ADR 0048)."""

    def locked_until(self, digests: Sequence[str]) -> int:
        """Return the latest ``locked_until`` among ``digests``; 0 when none is stored."""

    def claim(self, digest: str, now: int) -> FailureRecord:
        """Return the record of ``digest`` (stored empty if there was none), locked till the transaction ends.

        A concurrent ``claim`` of the same digest waits for this transaction, so no failure is lost.
        """

    def put(self, record: FailureRecord) -> None:
        """Overwrite the record claimed earlier in this transaction."""

    def forget(self, digest: str) -> None:
        """Delete the record of ``digest``, if any."""

    def prune(self, now: int, batch: int) -> int:
        """Delete at most ``batch`` records that expired at or before ``now``; count them.

        It never waits for a record another transaction holds (it skips it).
        """


class ResetRows(Protocol):
    """One-time password-reset links, kept as hashes of their secrets."""

    def insert(self, reset: ResetRecord) -> None:
        """Store a new link."""

    def find(self, hash: str) -> ResetRecord | None:
        """Return the link whose hash is ``hash``, or None."""

    def take(self, hash: str) -> ResetRecord | None:
        """Delete the link whose hash is ``hash`` and return it; None when it is gone (used once already).

        Of two concurrent takers of one link exactly one gets it.
        """

    def delete_for(self, user_id: str) -> int:
        """Delete every link of a user; count them."""


class SecretRows(Protocol):
    """Server secrets generated once and shared by every process."""

    def get_or_create(self, name: str, value: str) -> str:
        """Return the stored secret ``name``, storing ``value`` first if there is none."""


class EventLog(Protocol):
    """The change outbox, and the feed read from it in ``seq`` order."""

    def append(self, events: Iterable[ChangeEvent]) -> None:
        """Append events to be committed with the current transaction."""

    def state(self) -> FeedState:
        """Return the feed's stream id, pruning mark and head."""

    def after(self, seq: int, limit: int) -> list[RecordedEvent]:
        """Return the first ``limit`` events whose ``seq`` is larger than ``seq``, in ``seq`` order."""

    def position_at(self, time: int) -> int:
        """Return the ``seq`` after which the events made at or after ``time`` (microseconds) follow."""

    def search(self, query: EventQuery) -> list[RecordedEvent]:
        """Return the events that match ``query``, newest first unless it asks for oldest first."""

    def prune(self, before: int, batch: int) -> int:
        """Delete at most ``batch`` of the oldest events made before ``before``; return how many.

        The pruning mark moves to the highest ``seq`` deleted, in the same transaction.
        """


class PushRows(Protocol):
    """The DataHub push's state, what it pushed, and the lookups it needs (ADR 0013).

    Only the lease holder changes the checkpoint: ``advance`` and ``fail`` do
    nothing for a ``holder`` that lost the lease, and tell so.
    """

    def state(self, name: str) -> PushState | None:
        """Return the push's state, or None before it ever ran."""

    def lease(self, name: str, holder: str, now: int, until: int) -> PushState | None:
        """Take or renew the lease for ``holder`` until ``until``; return None while another holds it."""

    def release(self, name: str, holder: str) -> None:
        """Give the lease up, if ``holder`` has it."""

    def advance(self, name: str, holder: str, through: int, now: int) -> bool:
        """Move the checkpoint to ``through`` and record a success; tell whether ``holder`` still leads."""

    def fail(self, name: str, holder: str, error: str, halted: bool, now: int) -> bool:
        """Record a failed push; tell whether ``holder`` still leads."""

    def users_by_urn(self, urns: Sequence[str]) -> dict[str, User]:
        """Return the stored user of each of ``urns`` that names one."""

    def groups_by_urn(self, urns: Sequence[str]) -> dict[str, Group]:
        """Return the stored group whose URN is exactly each of ``urns``, where there is one."""

    def users_after(self, id: str, limit: int) -> list[User]:
        """Return the first ``limit`` users whose id sorts after ``id``, by id."""

    def groups_after(self, id: str, limit: int) -> list[Group]:
        """Return the first ``limit`` groups whose id sorts after ``id``, by id."""

    def pushed(self, urns: Sequence[str]) -> dict[str, str]:
        """Return the SCIM id each of ``urns`` had when last pushed, for those pushed and not deleted."""

    def pushed_as(self, scim_ids: Sequence[str]) -> dict[str, list[str]]:
        """Return the URNs pushed for each of ``scim_ids`` and not deleted since."""

    def pushed_members(self, group_urns: Sequence[str]) -> list[str]:
        """Return the users whose pushed ``groupMembership`` names any of ``group_urns``, by URN."""

    def pushed_after(self, urn: str, limit: int) -> list[PushedEntity]:
        """Return the first ``limit`` pushed entities whose URN sorts after ``urn``, by URN."""

    def record(self, upserted: Sequence[PushedEntity], removed: Sequence[str], now: int) -> None:
        """Record entities written into DataHub (with a user's groups) and URNs deleted there."""


class Transaction(Protocol):
    """One unit of work over every kind of row.

    Each kind is a read-only property: a store hands out its own classes (``SqlUserRows``…), which
    a settable protocol attribute would refuse, since a type checker holds those to the exact type.
    """

    @property
    def users(self) -> UserRows:
        """The users."""

    @property
    def groups(self) -> GroupRows:
        """The groups."""

    @property
    def members(self) -> MemberRows:
        """The group memberships."""

    @property
    def roles(self) -> RoleRows:
        """The roles assigned to users and groups."""

    @property
    def tokens(self) -> TokenRows:
        """The API tokens."""

    @property
    def secrets(self) -> SecretRows:
        """The server secrets every process shares."""

    @property
    def sessions(self) -> SessionRows:
        """The console's sessions."""

    @property
    def failures(self) -> FailureRows:
        """The recent sign-in failures."""

    @property
    def resets(self) -> ResetRows:
        """The one-time password-reset links."""

    @property
    def events(self) -> EventLog:
        """The change-event log."""

    @property
    def push(self) -> PushRows:
        """The DataHub push's state and what it pushed."""


CommitListener = Callable[[int], None]
"""Called with the highest ``seq`` of a commit that wrote events."""


class CommitNotifier(Protocol):
    """Tells this process's listeners of each commit that wrote events, once it committed."""

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` in the committing thread after each later such commit; return what stops it."""


class WouldWait(BaseException):
    """A write told not to wait would wait, and wrote nothing (ADR 0055, ADR 0058).

    A signal to the caller, not an error: it derives from ``BaseException`` so that the handlers'
    ``except Exception`` (which turn any error into a response) let it through to whoever asked
    for ``Store.unwaiting``.
    """


class CredentialChanged(BaseException):  # noqa: N818 - a signal, as WouldWait
    """The credential a request was authenticated with changed before its work was answered (ADR 0083).

    Raised within ``Store.checking_credentials`` when the credential, read again, no longer grants
    what the one from memory did: whatever the work made is to be dropped, and the request
    authenticated afresh. A ``BaseException``, as ``WouldWait``: no handler turns it into an answer.
    """


class CredentialCheck(Protocol):
    """What ``Store.checking_credentials`` found once it ended."""

    @property
    def unconfirmed(self) -> bool:
        """Whether the credential answered was not confirmed: it changed, or the database could not say.

        Then the work's outcome must be dropped and the request run again.
        """


class LoopWork(Protocol):
    """A request's work run on the event loop (``Store.unwaiting``): what its answer must wait for."""

    async def committed(self) -> None:
        """Return once every write of the work is committed (ADR 0061: its loop turn's shared commit).

        :raises ScimhubError: When that commit failed: nothing of the work was written.
        """


class Store(Protocol):
    """A database."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a write transaction; commit on success, roll back on any error."""

    def unwaiting(self) -> AbstractContextManager[LoopWork]:
        """Within it, the first write transaction raises ``WouldWait`` rather than wait for a lock.

        Its answer waits for ``LoopWork.committed``: on SQLite the writes of one turn of the event
        loop commit together after it (ADR 0061).

        Only the first: once one has committed, the work cannot be started again elsewhere, so later
        ones wait as usual. Where locks are met only inside a transaction (PostgreSQL: a row, the
        events' order), it waits for one a few milliseconds at most, then rolls back whole and
        raises (ADR 0058): the work holds one of few slots on the loop (``cooperate``, ADR 0066).
        """

    async def cooperate(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)``, a request's work, on the running event loop.

        Where the database is reached over a network (PostgreSQL), each wait for it lets the loop
        serve other requests meanwhile (ADR 0066); elsewhere it runs at once.
        """

    def leave_loop(self) -> None:
        """Say that slow work comes next (a password's hash), to run where it keeps nobody waiting.

        Within ``unwaiting`` and before any write committed, raise ``WouldWait``; else do nothing.
        """

    def read(self, *, one_statement: bool = False) -> AbstractContextManager[Transaction]:
        """Open a read-only transaction (a consistent snapshot where the engine has one).

        ``one_statement``: what is read in it is one statement, which sees one snapshot by
        itself: no transaction is opened around it (ADR 0057).
        """

    def credential(self, hash: str) -> Credential | None:
        """Return the token whose hash is ``hash`` with its user and roles, or None.

        One statement, which sees one snapshot of the database: no transaction of its own. Within
        ``checking_credentials`` it may answer from memory what it read before.
        """

    def checking_credentials(self, *, fresh: bool = False) -> AbstractContextManager[CredentialCheck]:
        """Within it, ``credential`` may answer from memory; the answer is checked before the work is.

        ``fresh``: ``credential`` reads, never answers from memory; each write is still checked as it
        commits, apart from its own rows, so that a write changing its own credential passes (a run
        again after a check that failed, ADR 0084, 0086).

        Where a round trip is dear (PostgreSQL), a credential read before is answered again, and read
        afresh in the round trip of the work's first lone statement, or alone before any other use
        of the database and at the end (ADR 0083). A write transaction checks it in the server as it
        commits, and fails whole when it no longer holds: nothing is written (ADR 0084). When it
        no longer grants what it did, ``CredentialChanged`` is raised where it was found, and the
        check says ``unconfirmed`` at the end, as it does when the check could not be read (the
        database away): the caller drops what the work made and runs it again
        in a ``fresh`` check.
        """

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
