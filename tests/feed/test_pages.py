"""The feed as a use case, on both engines: where a consumer starts, following offsets, retention."""

from __future__ import annotations

import pytest

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.errors import Forbidden, InvalidValue
from scimhub.feed.offsets import encode_offset
from scimhub.feed.pages import DAY, EventFeed
from scimhub.feed.requests import PollRequest
from scimhub.wiring import Services, now_micros
from tests.directory.conftest import add_user, hub  # noqa: F401 - the fixture
from tests.store.contract_events import append, make_event

READER = Actor("reader-id", "urn:li:corpuser:reader")


def urns(hub: Services, request: PollRequest) -> tuple[list[str], str]:  # noqa: F811
    page = hub.feed.poll(SYSTEM, request)
    return [r.event.entity_urn for r in page.events], page.offset


def test_a_new_consumer_starts_at_the_newest_event(hub: Services) -> None:  # noqa: F811
    """Without an offset: no old events, and an offset from which the next change is delivered."""
    add_user(hub, "before")
    seen, offset = urns(hub, PollRequest())
    assert seen == []
    add_user(hub, "after")
    assert urns(hub, PollRequest(offset=offset))[0] == ["urn:li:corpuser:after"]


def test_following_offsets_delivers_every_event_once_in_order(hub: Services) -> None:  # noqa: F811
    """Pages of ``limit`` events, each continuing after the last; then an empty page at the same offset."""
    _, offset = urns(hub, PollRequest())
    for name in ("a", "b", "c", "d", "e"):
        add_user(hub, name)
    delivered: list[str] = []
    while True:
        page, next_offset = urns(hub, PollRequest(offset=offset, limit=2))
        if not page:
            assert next_offset == offset
            break
        delivered += page
        offset = next_offset
    assert delivered == [f"urn:li:corpuser:{n}" for n in "abcde"]


def test_a_look_back_replays_the_recent_days(hub: Services) -> None:  # noqa: F811
    """A new consumer with lookbackWindowDays gets the events of those days, not older ones."""
    append(hub.store, make_event("urn:li:corpuser:ancient", time=now_micros() - 10 * DAY))
    add_user(hub, "recent")
    assert urns(hub, PollRequest(lookback_days=2))[0] == ["urn:li:corpuser:recent"]


def test_polling_needs_get_platform_events(hub: Services) -> None:  # noqa: F811
    """A token whose user lacks GET_PLATFORM_EVENTS is refused, naming the privilege."""
    with pytest.raises(Forbidden, match="GET_PLATFORM_EVENTS"):
        hub.feed.poll(READER, PollRequest())


def test_an_offset_ahead_of_the_feed_is_refused(hub: Services) -> None:  # noqa: F811
    """An offset beyond the newest event (a restored database) is a 400, not a wait for ever."""
    with hub.store.read() as tx:
        state = tx.events.state()
    with pytest.raises(InvalidValue, match="ahead of the newest event"):
        hub.feed.poll(SYSTEM, PollRequest(offset=encode_offset(state.stream, state.head + 10)))


def test_pruning_refuses_readers_behind_it_and_leaves_the_others(hub: Services) -> None:  # noqa: F811
    """An offset inside the pruned range gets a 400; one past it reads on as if nothing happened."""
    _, behind = urns(hub, PollRequest())
    append(
        hub.store, *(make_event(f"urn:li:corpuser:old{i}", time=now_micros() - 40 * DAY) for i in range(3))
    )
    _, ahead = urns(hub, PollRequest())
    add_user(hub, "fresh")
    assert EventFeed(hub.store, now_micros, 30).prune() == 3
    with pytest.raises(InvalidValue, match="older than what the server keeps"):
        hub.feed.poll(SYSTEM, PollRequest(offset=behind))
    assert urns(hub, PollRequest(offset=ahead))[0] == ["urn:li:corpuser:fresh"]


def test_retention_zero_keeps_everything(hub: Services) -> None:  # noqa: F811
    """With event_retention_days 0 pruning deletes nothing."""
    append(hub.store, make_event(time=1))
    assert hub.feed.prune(0) == 0
