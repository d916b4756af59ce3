"""A poll's parameters, read and range-checked (docs/datahub.md §6.3).

DataHub's consumer sends ``topic``, ``offsetId``, ``limit``, ``pollTimeoutSeconds``
and ``lookbackWindowDays``, leaving out the ones it has no value for. A value we
cannot honour is refused with a message naming it, never quietly replaced: a
consumer that asked for something else must not believe it got it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidValue

TOPIC = "PlatformEvent_v1"
"""The only topic scimhub publishes: PlatformEvents carrying EntityChangeEvents."""
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_POLL_TIMEOUT_SECONDS = 60
"""A long poll holds no database connection while it waits, but it does hold an HTTP
connection; a minute is far above the 2 s DataHub's event source asks for."""
MAX_LOOKBACK_DAYS = 3650


@dataclass(frozen=True)
class PollRequest:
    """What one poll asks for."""

    offset: str | None = None
    """Where the consumer stopped; None for a new consumer."""
    limit: int = DEFAULT_LIMIT
    """At most this many events."""
    timeout: int = 0
    """Seconds to wait for an event when there is none yet; 0 answers at once."""
    lookback_days: int | None = None
    """For a new consumer: start at the events of the last this many days, not at the newest."""


def read_poll_request(query: Mapping[str, str]) -> PollRequest:
    """Return the poll a query string asks for.

    :raises InvalidValue: When the topic is not ``PlatformEvent_v1``, a number is not
        a whole number within its range, or a value holds a NUL; the detail names the parameter.
    """
    for name, value in query.items():  # ADR 0021: no NUL reaches the database
        check_no_nul(name, "a query parameter name")
        check_no_nul(value, name)
    topic = query.get("topic", TOPIC)
    if topic != TOPIC:
        raise InvalidValue(f"topic {topic[:80]!r} is not published here; the only topic is {TOPIC}")
    offset = query.get("offsetId") or None
    return PollRequest(
        offset=offset,
        limit=_whole(query, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT,
        timeout=_whole(query, "pollTimeoutSeconds", 0, MAX_POLL_TIMEOUT_SECONDS) or 0,
        lookback_days=_whole(query, "lookbackWindowDays", 0, MAX_LOOKBACK_DAYS),
    )


def _whole(query: Mapping[str, str], name: str, lowest: int, highest: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not lowest <= int(raw) <= highest:
        raise InvalidValue(f"{name} must be a whole number from {lowest} to {highest}, not {raw[:40]!r}")
    return int(raw)
