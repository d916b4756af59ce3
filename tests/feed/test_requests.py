"""A poll's parameters: DataHub's names, defaults, and a 400 for anything out of range."""

from __future__ import annotations

import pytest

from scimhub.errors import InvalidValue
from scimhub.feed.requests import DEFAULT_LIMIT, MAX_LIMIT, PollRequest, read_poll_request


def test_what_datahubs_consumer_sends_is_read() -> None:
    """topic, offsetId, limit, pollTimeoutSeconds and lookbackWindowDays, by DataHub's names."""
    query = {
        "topic": "PlatformEvent_v1",
        "offsetId": "abc",
        "limit": "7",
        "pollTimeoutSeconds": "2",
        "lookbackWindowDays": "3",
    }
    assert read_poll_request(query) == PollRequest(offset="abc", limit=7, timeout=2, lookback_days=3)


def test_absent_parameters_take_their_defaults() -> None:
    """No parameter at all: the platform topic, a new consumer, the default page, no waiting."""
    assert read_poll_request({}) == PollRequest(
        offset=None, limit=DEFAULT_LIMIT, timeout=0, lookback_days=None
    )


@pytest.mark.parametrize("topic", ["MetadataChangeLog_Versioned_v1", "platformevent_v1", ""])
def test_another_topic_is_refused(topic: str) -> None:
    """Only PlatformEvent_v1 is published; another topic is a 400 naming it."""
    with pytest.raises(InvalidValue, match="topic"):
        read_poll_request({"topic": topic})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", str(MAX_LIMIT + 1)),
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", "1e3"),
        ("limit", "9" * 5000),
        ("pollTimeoutSeconds", "61"),
        ("pollTimeoutSeconds", "1.5"),
        ("lookbackWindowDays", "-2"),
        ("lookbackWindowDays", "99999"),
    ],
)
def test_a_number_out_of_range_is_refused(name: str, value: str) -> None:
    """A limit, timeout or look-back outside its range is a 400 naming the parameter, never clamped."""
    with pytest.raises(InvalidValue, match=name):
        read_poll_request({name: value})
