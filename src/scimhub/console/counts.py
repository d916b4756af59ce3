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

from scimhub.console.orders import SORTS
from scimhub.domain.roles import Role
from scimhub.query.pages import Query, Walk
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.services import Services

TTL_SECONDS = 30.0
SAMPLE_SIZE = 1_000
"""Holders of a role drawn at random at each reading: where they lie predicts a walk's success (ADR 0051)."""
SAMPLED_AT_MOST = 100_000
"""Roles held by more are not sampled: their walk is short beside their holders' read (to 12 M users)."""
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
    samples: dict[Role, dict[str, tuple[Any, ...]]]
    """For up to SAMPLE_SIZE of a role's holders drawn at random (roles held by SAMPLED_AT_MOST or fewer),
    what each of the list's orders sorts by, in ascending order: ``Walk.sample``."""
    read_at: int
    """Microseconds since the epoch."""

    def role_walk(self, role: Role, order: str, page: int) -> Walk | None:
        """Return how the Users list sorted by ``order`` may look for a page of ``page`` holders of ``role``.

        A page of a role held by ``h`` of ``n`` users spread evenly is among the next
        ``page * n / h`` users; reading the holders costs about ``h`` probes. So the walk
        is worth it when ``page * n / h <= h``, and is given twice that distance, at most
        ``h`` users: an even spread finds its page well within it (ADR 0045). None: read the
        holders. Holders bunched at the far end of the order would make such a walk find
        nothing, and cost up to ``h`` tests before the holders' read: when that is more than
        an eighth of the read, the sample is passed along to tell the two cases apart (ADR 0051).
        """
        holders = self.holders[role]
        if holders * holders < page * self.users:
            return None
        rows = min(holders, -(-2 * page * self.users // holders))
        sample = self.samples.get(role, {}).get(order, ()) if 8 * rows > holders else ()
        return Walk(rows, holders, sample)


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

    def _sample(self, role: Role) -> dict[str, tuple[Any, ...]]:
        orders = list(SORTS.values())
        drawn = self._services.users.sample_holders(role, SAMPLE_SIZE, [resolve(USER, o) for o in orders])
        by_order = zip(*drawn, strict=True) if drawn else [() for _ in orders]
        return {order: tuple(sorted(keys)) for order, keys in zip(orders, by_order, strict=True)}

    def _read(self, now: float) -> Counts:
        users, groups = self._services.users, self._services.groups
        none = Query(limit=0)
        holders = {role: users.search(none, role=role).total for role in Role}
        return Counts(
            users=users.search(none).total,
            suspended=users.search(none, active=False).total,
            groups=groups.summaries(none).total,
            holders=holders,
            samples={role: self._sample(role) for role, n in holders.items() if 0 < n <= SAMPLED_AT_MOST},
            read_at=int(now * 1e6),
        )
