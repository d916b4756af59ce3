"""The Entity Events API as a use case: resolve where a consumer stands, return the next page.

Each page is read in one read transaction, which sees the events and the pruning
mark of one moment (store contract), so a page is never cut by a concurrent
prune: either the consumer's position is still retained and every event after
it is there, or it is not and the poll is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from scimhub.directory.actors import Actor
from scimhub.directory.users import Clock
from scimhub.domain.events import RecordedEvent
from scimhub.domain.roles import Privilege
from scimhub.errors import InvalidValue
from scimhub.feed.offsets import decode_offset, encode_offset
from scimhub.feed.requests import PollRequest
from scimhub.store.contract import Store, Transaction
from scimhub.store.records import FeedState

DAY = 86_400 * 1_000_000
"""A day in microseconds."""
PRUNE_BATCH = 10_000
"""Events deleted per transaction: a prune never holds the table long."""


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed and where the next one starts."""

    events: list[RecordedEvent]
    after: int
    """The ``seq`` the next page continues after: the last event's, or where this one started."""
    offset: str
    """``after`` as the opaque offset the consumer sends back."""


class EventFeed:
    """Serve pages of change events in ``seq`` (commit) order, and prune old ones."""

    def __init__(self, store: Store, clock: Clock, retention_days: int) -> None:
        self._store = store
        self._clock = clock
        self.retention_days = retention_days
        """Events older than this many days are pruned; 0 keeps every event."""

    def poll(self, actor: Actor, request: PollRequest, resume: int | None = None) -> FeedPage:
        """Return the page after the consumer's position, or after ``resume`` on a long poll's next read.

        A consumer without an offset starts at the newest event (DataHub: "a new
        consumer starts at the latest events"), or ``lookback_days`` before now.

        :raises Forbidden: Without GET_PLATFORM_EVENTS.
        :raises InvalidValue: When the offset is not one of ours, is ahead of the
            newest event, or is older than what retention kept.
        """
        actor.require(Privilege.GET_PLATFORM_EVENTS, "Polling platform events")
        with self._store.read() as tx:
            state = tx.events.state()
            after = resume if resume is not None else self._start(tx, state, request)
            if after < state.pruned_through:
                raise InvalidValue(
                    f"offsetId is older than what the server keeps (events of the last {self.retention_days}"
                    " days): the events after it were pruned. Start again without offsetId, or with"
                    " lookbackWindowDays"
                )
            events = tx.events.after(after, request.limit)
        last = events[-1].seq if events else after
        return FeedPage(events, last, encode_offset(state.stream, last))

    def _start(self, tx: Transaction, state: FeedState, request: PollRequest) -> int:
        if request.offset is not None:
            seq = decode_offset(request.offset, state.stream)
            if seq > state.head:
                raise InvalidValue(
                    "offsetId is ahead of the newest event: it was not issued by this database as it is now"
                    " (restored from a backup?); start again without offsetId"
                )
            return seq
        if request.lookback_days is not None:
            since = self._clock() - request.lookback_days * DAY
            return max(tx.events.position_at(since), state.pruned_through)
        return state.head

    def head(self) -> int:
        """Return the ``seq`` of the newest committed event (no privilege: it reveals nothing)."""
        with self._store.read() as tx:
            return tx.events.state().head

    def prune(self, retention_days: int | None = None) -> int:
        """Delete the events older than the retention period, a batch per transaction; return how many.

        ``retention_days`` overrides the configured period for this call; 0 keeps every event.
        """
        days = self.retention_days if retention_days is None else retention_days
        if days <= 0:
            return 0
        cutoff = self._clock() - days * DAY
        total = 0
        while True:
            with self._store.transaction() as tx:
                deleted = tx.events.prune(cutoff, PRUNE_BATCH)
            total += deleted
            if deleted < PRUNE_BATCH:
                return total
