"""The audit view: the feed's events, filtered by entity, actor, category and time.

The same events the poll API publishes, searched instead of followed: newest
first, a page at a time (``before``), or oldest first from a position
(``after``), which is how ``scimhub events tail --follow`` keeps up; with both,
the events between two positions, oldest first. Positions
are the poll API's opaque offsets, so an event found here can be followed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scimhub.directory.actors import Actor
from scimhub.domain.events import Category, RecordedEvent
from scimhub.domain.roles import Privilege
from scimhub.errors import InvalidValue
from scimhub.feed.offsets import decode_offset, encode_offset
from scimhub.feed.requests import DEFAULT_LIMIT
from scimhub.feed.wire import entity_change_event
from scimhub.store.contract import Store
from scimhub.store.records import EventQuery


@dataclass(frozen=True)
class AuditRequest:
    """What an audit search asks for; every field given narrows it."""

    entity: str | None = None
    """The changed entity's URN."""
    actor: str | None = None
    """The URN of the user whose token made the change."""
    category: Category | None = None
    since: int | None = None
    """Microseconds since the epoch, inclusive."""
    until: int | None = None
    """Microseconds since the epoch, exclusive."""
    before: str | None = None
    """An offset: only older events, newest first (the next page of a search)."""
    after: str | None = None
    """An offset: only newer events, oldest first (following); with ``before``, the events between."""
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class AuditPage:
    """One page of an audit search."""

    events: list[tuple[str, RecordedEvent]]
    """Each event with its offset (the position right after it)."""
    next: str | None
    """The offset to pass as ``before`` (or ``after``) for the next page; None when this one was the last."""
    head: str
    """The offset of the newest event when the page was read: where following starts."""


def parse_time(name: str, text: str) -> int:
    """Return an ISO 8601 date or date-time (UTC unless it says otherwise) in microseconds since the epoch.

    :raises InvalidValue: When ``text`` is not one, naming the parameter ``name``.
    """
    try:
        moment = datetime.fromisoformat(text.strip().upper())  # RFC 3339 allows t and z
    except ValueError:
        raise InvalidValue(
            f"{name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not {text[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def read_audit_request(params: Mapping[str, Any]) -> AuditRequest:
    """Return the audit search of query parameters already checked against their schemas.

    The API's route table declares each parameter's form (``web/api/events.py``) and the
    gateway enforces it (ADR 0026), so this only converts: every combination is a search.
    """
    category = params.get("category")
    return AuditRequest(
        entity=params.get("entity"),
        actor=params.get("actor"),
        category=Category(category) if category is not None else None,
        since=parse_time("since", params["since"]) if "since" in params else None,
        until=parse_time("until", params["until"]) if "until" in params else None,
        before=params.get("before"),
        after=params.get("after"),
        limit=params.get("limit", DEFAULT_LIMIT),
    )


def audit_json(offset: str, recorded: RecordedEvent) -> dict[str, Any]:
    """Return an event as the audit view shows it: its offset and its EntityChangeEvent."""
    return {"offsetId": offset, **entity_change_event(recorded.event)}


class Audit:
    """Search the change events."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def search(self, actor: Actor, request: AuditRequest) -> AuditPage:
        """Return one page of the events that match ``request``.

        :raises Forbidden: Without GET_PLATFORM_EVENTS: the audit shows what the feed publishes.
        :raises InvalidValue: When ``before`` or ``after`` is not an offset of this feed.
        """
        actor.require(Privilege.GET_PLATFORM_EVENTS, "Reading the change events")
        with self._store.read() as tx:
            state = tx.events.state()
            query = EventQuery(
                entity_urn=request.entity,
                actor=request.actor,
                category=request.category.value if request.category else None,
                since=request.since,
                until=request.until,
                before=decode_offset(request.before, state.stream) if request.before else None,
                after=decode_offset(request.after, state.stream) if request.after else None,
                oldest_first=request.after is not None,
                limit=request.limit + 1,
            )
            found = tx.events.search(query)
        page = found[: request.limit]
        events = [(encode_offset(state.stream, e.seq), e) for e in page]
        more = len(found) > request.limit
        return AuditPage(events, events[-1][0] if more else None, encode_offset(state.stream, state.head))
