"""Use cases on groups: one transaction per call, membership as set deltas."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Generator, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from itertools import islice
from types import TracebackType
from typing import Any

from scimhub.directory.actors import Actor
from scimhub.directory.changes import (
    attribute_events,
    check_version,
    creation_events,
    hard_delete,
    membership_events,
)
from scimhub.directory.users import Clock
from scimhub.domain.groups import Group, Member, MemberChange, group_urn
from scimhub.domain.versions import Versions
from scimhub.errors import InvalidValue, NotFound
from scimhub.query.pages import Page, Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import GROUP
from scimhub.store.contract import Store, Transaction


@dataclass(frozen=True)
class GroupEdit:
    """A group's new attributes and the change to its membership."""

    doc: dict[str, Any]
    members: MemberChange = MemberChange()


@dataclass(frozen=True)
class GroupView:
    """A group and, when asked for, its members."""

    group: Group
    members: list[Member] | None = None


@dataclass(frozen=True)
class GroupSummary:
    """A group, how many members it has and, when asked for, its first members."""

    group: Group
    member_count: int
    first_members: tuple[Member, ...] = ()
    """In member id order; each ``display`` is the member's current userName or displayName."""


class GroupSnapshot:
    """A group read in a read transaction left open, so that its members can be read later, chunk by chunk.

    The group and every member come from one snapshot (REPEATABLE READ on
    PostgreSQL, a read transaction on SQLite), however long the reading takes.
    ``close`` ends the transaction and gives the connection back; it waits for a
    chunk being read on another thread, and may be called twice. Read and close
    from any thread, one call at a time: the connection is used by one thread at
    once, never concurrently.
    """

    def __init__(self, group: Group, members: Generator[Member, None, None], transaction: ExitStack) -> None:
        self.group = group
        self._members = members
        self._transaction = transaction
        self._lock = threading.Lock()
        self._closed = False

    def next_members(self, count: int) -> list[Member]:
        """Return up to ``count`` more members, in member id order; none once all were read or once closed."""
        with self._lock:
            return [] if self._closed else list(islice(self._members, count))

    def close(self) -> None:
        """End the read transaction: the member cursor first, then the transaction and its connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._members.close()
            finally:
                self._transaction.close()

    def __enter__(self) -> GroupSnapshot:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


def _rows(members: Iterable[Member]) -> Generator[Member, None, None]:
    """Return the store's member iterator as a generator, whose ``close`` reaches the store's cursor."""
    yield from members


_BY_DISPLAY_NAME = resolve(GROUP, "displayName")


def _not_found(id: str) -> NotFound:
    return NotFound(f"Group {id} not found")


class Groups:
    """Provision, read and deprovision groups and their members."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def get(self, id: str, *, with_members: bool = False) -> GroupView:
        """Return one group. :raises NotFound: When there is no such group."""
        with self._store.read() as tx:
            group = tx.groups.get(id)
            if group is None:
                raise _not_found(id)
            members = list(tx.members.members(id)) if with_members else None
        return GroupView(group, members)

    def open(self, id: str) -> GroupSnapshot:
        """Return one group in a read transaction left open for reading its members; the caller closes it.

        Nothing but the group is read here: a caller that needs no member (a 304)
        reads none, and one that reads them all holds one chunk at a time.

        :raises NotFound: When there is no such group (the transaction is closed then).
        """
        with ExitStack() as transaction:
            tx = transaction.enter_context(self._store.read())
            group = tx.groups.get(id)
            if group is None:
                raise _not_found(id)
            return GroupSnapshot(group, _rows(tx.members.members(id)), transaction.pop_all())

    def member_page(self, id: str, seek: Seek, limit: int) -> Page[Member]:
        """Return up to ``limit`` members after (``backward``: before) the member id of ``seek.after``.

        The members come in member id order, with their ids as sort keys and
        whether more lie beyond; the total is not counted (-1).

        :raises NotFound: When there is no such group.
        """
        after = None if seek.after is None else str(seek.after[0])
        with self._store.read() as tx:
            if tx.groups.get(id) is None:
                raise _not_found(id)
            rows = list(tx.members.members(id, limit + 1, after=after, backward=seek.backward))
        members = rows[:limit][::-1] if seek.backward else rows[:limit]
        return Page(-1, members, [(m.value,) for m in members], len(rows) > limit)

    def search(self, query: Query, *, with_members: bool = False) -> Page[GroupView]:
        """Return one page of the groups that match ``query``.

        A lookup without the members is one statement and takes no transaction (ADR 0057).
        """
        with self._store.read(one_statement=query.is_lookup and not with_members) as tx:
            page = tx.groups.search(query)
            views = [
                GroupView(g, list(tx.members.members(g.id)) if with_members else None) for g in page.items
            ]
        return Page(page.total, views, page.keys, page.more)

    def find(self, display_name: str, *, first_members: int = 0) -> GroupSummary:
        """Return the group whose displayName is ``display_name`` in any case, with its first members.

        Only the first ``first_members`` membership rows are read, whatever the
        group's size; the count comes from the database.

        :raises NotFound: When no group has that displayName.
        """
        with self._store.read() as tx:
            group = tx.groups.get_by_name(display_name)
            if group is None:
                raise NotFound(f"no group has the displayName '{display_name}'")
            members = list(tx.members.members(group.id, limit=first_members)) if first_members else []
            ids = [m.value for m in members]
            names = tx.users.names(ids) | tx.groups.names(ids)
            count = tx.members.counts([group.id])[group.id]
        named = tuple(replace(m, display=names.get(m.value, m.display)) for m in members)
        return GroupSummary(group, count, named)

    def summaries(self, query: Query) -> Page[GroupSummary]:
        """Return one page of the groups that match ``query``, each with its member count."""
        with self._store.read() as tx:
            page = tx.groups.search(query)
            counts = tx.members.counts([g.id for g in page.items])
        return Page(page.total, [GroupSummary(g, counts[g.id]) for g in page.items])

    def by_display_name(self, offset: int, limit: int) -> Page[GroupSummary]:
        """Return one page of every group in displayName order, each with its member count."""
        return self.summaries(Query(sort_by=_BY_DISPLAY_NAME, offset=offset, limit=limit))

    def summary(self, id: str) -> GroupSummary:
        """Return one group with its member count. :raises NotFound: When there is no such group."""
        with self._store.read() as tx:
            group = tx.groups.get(id)
            if group is None:
                raise _not_found(id)
            count = tx.members.counts([id])[id]
        return GroupSummary(group, count)

    def create(self, actor: Actor, edit: GroupEdit) -> Group:
        """Store a new group with its first members.

        :raises Uniqueness: When the displayName is taken.
        :raises InvalidValue: When a member names no stored user or group.
        """
        now = self._clock()
        # ADR 0037: the URN made from the first displayName is kept through renames
        group = Group(uuid.uuid4().hex, edit.doc, 1, now, now, created_urn=group_urn(edit.doc["displayName"]))
        if _unbounded(edit.members):
            self._store.leave_loop()
        with self._store.transaction() as tx:
            tx.groups.insert(group)
            tx.events.append(creation_events("corpGroup", group.urn, group.doc, actor.urn, now))
            self._apply_members(tx, actor, group, edit.members, now)
        return group

    def update(
        self,
        actor: Actor,
        id: str,
        edit: Callable[[Group], GroupEdit],
        expected_versions: Versions | None = None,
        *,
        with_members: bool = False,
    ) -> GroupView:
        """Change a group with ``edit`` (PUT or PATCH), under a row lock; return it as stored.

        :raises NotFound: When there is no such group.
        :raises PreconditionFailed: When ``expected_versions`` does not hold the stored one.
        :raises Uniqueness: When the new displayName is taken.
        :raises InvalidValue: When a member names no stored user or group.
        """
        with self._store.transaction() as tx:
            group = tx.groups.get(id, for_update=True)
            if group is None:
                raise _not_found(id)
            check_version("Group", id, group.version, expected_versions)
            change = edit(group)
            if _unbounded(change.members):
                self._store.leave_loop()
            now = self._clock()
            updated = replace(group, doc=change.doc, version=group.version + 1, last_modified=now)
            members_changed = self._apply_members(tx, actor, updated, change.members, now)
            if change.doc != group.doc or members_changed:
                tx.groups.update(updated)
                tx.events.append(
                    attribute_events("corpGroup", updated.urn, group.doc, updated.doc, actor.urn, now)
                )
            else:
                updated = group
            members = list(tx.members.members(id)) if with_members else None
        return GroupView(updated, members)

    def delete(self, actor: Actor, id: str, expected_versions: Versions | None = None) -> None:
        """Delete a group for good, with its membership rows.

        :raises NotFound: When there is no such group.
        :raises PreconditionFailed: When ``expected_versions`` does not hold the stored one.
        """
        self._store.leave_loop()  # its membership rows go with it, without bound (ADR 0076)
        with self._store.transaction() as tx:
            hard_delete(
                tx.groups, tx.events, "Group", "corpGroup", id, expected_versions, actor.urn, self._clock()
            )

    def _apply_members(
        self, tx: Transaction, actor: Actor, group: Group, change: MemberChange, now: int
    ) -> bool:
        """Check and apply a membership delta; append one event per member really changed."""
        if change.is_empty:
            return False
        typed, members = _typed_members(tx, group.id, change.add)
        added, removed = tx.members.apply(group.id, replace(change, add=typed))
        if not removed <= members.keys():  # the added were read by _typed_members
            members |= _entities(tx, removed - members.keys())
        tx.events.append(membership_events(group.urn, members, added, removed, actor.urn, now))
        return bool(added or removed)


MEMBERS_ON_THE_LOOP = 1_000
"""The most members a change may name and still run on the event loop: what a PATCH may name."""


def _unbounded(change: MemberChange) -> bool:
    """Tell whether ``change`` may touch more rows than a request's work may on the event loop.

    Clearing the members (a PUT, a PATCH that replaces or removes them all) touches as many rows
    as the group has; a POST or PUT may name as many as its body holds. Such a work leaves the loop
    before it writes (ADR 0076): there its savepoint's journal, in memory, would grow with the rows,
    and it would hold every other request for as long as it ran.
    """
    return change.clear or len(change.add) + len(change.remove) > MEMBERS_ON_THE_LOOP


_MEMBERS_NAMED = 10
"""The most unknown member ids one error names; it says how many more there were."""


def _unknown_members(ids: list[str]) -> str:
    """Return the error detail for member values that name no stored User or Group (ADR 0036).

    It names the values at fault and what a member's value must be, so that a
    client (or the administrator reading its log) knows what to fix.
    """
    named = ", ".join(repr(i) for i in ids[:_MEMBERS_NAMED])
    more = f" and {len(ids) - _MEMBERS_NAMED} more" if len(ids) > _MEMBERS_NAMED else ""
    return (
        f"members: {named}{more} {'is' if len(ids) == 1 else 'are'} not the id of any User or Group here;"
        " a member's value must be the id this server issued for a User or Group (the id of its POST"
        ' response, or of GET /Users?filter=userName eq "…"), not a userName, email or externalId;'
        " a member deleted meanwhile cannot be added"
    )


def _typed_members(
    tx: Transaction, group_id: str, members: tuple[Member, ...]
) -> tuple[tuple[Member, ...], dict[str, tuple[str, str]]]:
    """Return the members with their type set from what their ids name, and ``_entities`` of their ids.

    :raises InvalidValue: When an id names no stored user or group (deleted meanwhile included), or the
        group itself.
    """
    if not members:
        return (), {}
    # Held until the commit, so no member is deleted between this check and its row (ADR 0020):
    # member_id has no foreign key to do it, since a member is a user or a group.
    found = _entities(tx, [m.value for m in members], refer=True)
    unknown = sorted({m.value for m in members if m.value not in found})
    if unknown:
        raise InvalidValue(_unknown_members(unknown))
    if group_id in found:
        raise InvalidValue("members: a group cannot be a member of itself")
    kinds = {"corpuser": "User", "corpGroup": "Group"}
    return tuple(Member(m.value, kinds[found[m.value][0]], m.display) for m in members), found


def _entities(tx: Transaction, ids: Collection[str], *, refer: bool = False) -> dict[str, tuple[str, str]]:
    """Return the DataHub entity type and URN of each of ``ids`` that names a stored user or group.

    A nested group is no DataHub membership, but its change is recorded too (ADR 0010).
    ``refer``: as in ``UserRows.names``.
    """
    found = {id: ("corpuser", urn) for id, urn in tx.users.urns(ids, refer=refer).items()}
    nested = tx.groups.urns([i for i in ids if i not in found], refer=refer)
    return found | {id: ("corpGroup", urn) for id, urn in nested.items()}
