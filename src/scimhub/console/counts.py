"""The directory's counts the console shows, read at most once per ``ttl`` seconds (ADR 0044).

Counting a million users exactly reads a million index entries, and every
holder of a role costs a probe: 88 to 433 ms an Overview at a million users
(docs/benchmarks.md). An overview reloaded by several administrators does not
need a count newer than a few seconds, so the counts are read together, in one
snapshot, and kept for ``ttl`` seconds; the pages show when they were read.
SCIM's ``totalResults`` stays exact (ADR 0017): only the console reads these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scimhub.domain.roles import Role
from scimhub.query.pages import Query
from scimhub.services import Services

TTL_SECONDS = 30.0


@dataclass(frozen=True)
class Counts:
    """Users, suspended users, groups and the effective holders of each role, as read at ``read_at``."""

    users: int
    """Every user, the built-in admin included; the active ones are ``users - suspended``."""
    suspended: int
    groups: int
    holders: dict[Role, int]
    """Users holding each role directly or through a group, as the Users list's role filter finds them."""
    read_at: int
    """Microseconds since the epoch."""


class CountCache:
    """Read the counts when the last reading is older than ``ttl`` seconds; one reader at a time."""

    def __init__(
        self, services: Services, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._services, self.ttl, self._clock = services, ttl, clock
        self._lock = threading.Lock()
        self._counts: Counts | None = None

    def get(self) -> Counts:
        """Return the counts, read again when older than ``ttl`` seconds."""
        with self._lock:  # concurrent loads wait for one reading rather than each make their own
            now = self._clock()
            if self._counts is None or now - self._counts.read_at / 1e6 >= self.ttl:
                self._counts = self._read(now)
            return self._counts

    def _read(self, now: float) -> Counts:
        users, groups = self._services.users, self._services.groups
        none = Query(limit=0)
        return Counts(
            users=users.search(none).total,
            suspended=users.search(none, active=False).total,
            groups=groups.summaries(none).total,
            holders={role: users.search(none, role=role).total for role in Role},
            read_at=int(now * 1e6),
        )
