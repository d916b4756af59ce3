"""The directory's counts the console shows: read in the background, at most once per ``ttl`` seconds.

Counting a million users exactly reads a million index entries, and every
holder of a role costs a probe: 88 to 433 ms an Overview at a million users
(docs/benchmarks.md). An overview reloaded by several administrators does not
need a count newer than a few seconds, so the counts are read together, in one
snapshot, and kept for ``ttl`` seconds; the pages show when they were read (ADR
0044). No request waits for a reading (ADR 0045): a page is served the last one,
and asks for a new one, read on the core's threads, when it is older than ``ttl``;
before the first (started when the server starts) the pages say "counting…".
SCIM's ``totalResults`` stays exact (ADR 0017): only the console reads these.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scimhub.domain.roles import Role
from scimhub.query.pages import Query
from scimhub.services import Services

TTL_SECONDS = 30.0
log = logging.getLogger("scimhub.console")


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

    def role_walk(self, role: Role, page: int) -> int:
        """Return how many users, in a list's order, to test for ``role`` before reading its holders.

        A page of a role held by ``h`` of ``n`` users spread evenly is among the next
        ``page * n / h`` users; reading the holders costs about ``h`` probes. So the walk
        is worth it when ``page * n / h <= h``, and is given twice that distance, at most
        ``h`` users: an even spread finds its page well within it, and holders bunched at
        the far end of the order cost the walk as little as it can (ADR 0045). 0: read the holders.
        """
        holders = self.holders[role]
        if holders * holders < page * self.users:
            return 0
        return min(holders, -(-2 * page * self.users // holders))


class CountCache:
    """The last reading of the counts, and a new one in the background when it is older than ``ttl``."""

    def __init__(
        self,
        services: Services,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        run: Callable[[Callable[[], Any]], Any] | None = None,
    ) -> None:
        self._services, self.ttl, self._clock = services, ttl, clock
        self._run = run if run is not None else services.core.submit
        """How a reading is started without waiting for it: on the core's threads."""
        self._lock = threading.Lock()
        self._counts: Counts | None = None
        self._reading = False

    def get(self) -> Counts | None:
        """Return the last reading (None before the first), asking for a new one when it is ``ttl`` old."""
        with self._lock:
            stale = self._counts is None or self._clock() - self._counts.read_at / 1e6 >= self.ttl
            if stale and not self._reading:  # one reading at a time, whoever asks
                self._reading = True
                try:
                    self._run(self.refresh)
                except RuntimeError:  # the core's threads are stopping with the process: no more readings
                    self._reading = False
            return self._counts

    def refresh(self) -> Counts | None:
        """Read the counts now and keep them, unless a reading started later is kept already.

        A failed reading is logged and the last one kept; the next page asks again.
        """
        try:
            counts = self._read(self._clock())
        except Exception:  # noqa: BLE001 - on a background thread: nobody else would see it
            log.warning("the console's counts could not be read", exc_info=True)
            with self._lock:
                self._reading = False
                return self._counts
        with self._lock:
            self._reading = False
            if self._counts is None or self._counts.read_at <= counts.read_at:
                self._counts = counts
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
