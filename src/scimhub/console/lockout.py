"""Sign-in throttling: a temporary lock-out after repeated failures, per user name and per address (ADR 0030).

The counts live in the process's memory, like the rate limits (ADR 0023): each
of ``serve --workers N`` counts on its own, so a guesser spread over every
worker gets at most N times the allowance, which ADR 0030 accounts for. They
are touched only on the event loop, so they need no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Policy:
    """How many failures within a window lock a key, and for how long."""

    failures: int
    window: float
    """Seconds over which failures count."""
    lock: float
    """Seconds a key stays locked once it reached ``failures``."""


BY_USER_NAME = Policy(failures=5, window=15 * 60, lock=15 * 60)
"""Five wrong passwords for one user name within 15 minutes lock that name for 15 minutes."""
BY_ADDRESS = Policy(failures=20, window=15 * 60, lock=15 * 60)
"""Twenty failures from one address within 15 minutes, whatever the names, lock the address for 15 minutes."""
CAPACITY = 10_000
"""Keys remembered at most; the oldest go first, so no stream of names can grow memory without end."""


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class Lockout:
    """Count sign-in failures per key and tell when a key is locked."""

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, key: str) -> int:
        """Return the seconds until ``key`` may try again; 0 when it is not locked."""
        record = self._records.get(key)
        if record is None:
            return 0
        left = record.locked_until - self._clock()
        return max(0, int(left + 0.999))

    def failed(self, key: str) -> None:
        """Count one failure for ``key``, locking it when it reached the policy's number."""
        now, policy = self._clock(), self._policy
        record = self._records.pop(key, None) or _Record()
        self._records[key] = record  # the newest at the end: evicted last
        record.failures.append(now)
        while record.failures and record.failures[0] <= now - policy.window:
            record.failures.popleft()
        if len(record.failures) >= policy.failures:
            record.locked_until = now + policy.lock
            record.failures.clear()
        while len(self._records) > CAPACITY:
            self._records.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a right password for a name that was not locked)."""
        self._records.pop(key, None)
