"""Sign-in throttling: a temporary lock-out after repeated failures, per user name and per address.

The policy is ADR 0030's; ADR 0048 moved the counts into the database, so every
process of ``serve --workers N`` shares them and a guesser gets the allowance once,
not N times. A key (a folded user name, a client address) is stored only as an
HMAC-SHA256 of its kind and itself, keyed from the token hash salt: a password typed
into the user-name box is never kept in clear, and where the salt is configured
outside the database (production, ADR 0027) a copy of the database cannot test
guesses against the digests either. Each key keeps the times of its failures still within the window —
fewer than the policy's number — so the window slides exactly. One failed sign-in
is one write transaction that claims (locks) the name's and the address's rows in
a fixed order, so concurrent failures from any number of processes each count and
never deadlock, and prunes a few rows whose window and lock are both over, so a
stream of random names cannot grow the table without end.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from scimhub.directory.users import Clock
from scimhub.domain.text import fold
from scimhub.store.contract import Store
from scimhub.store.records import FailureRecord

SECOND = 1_000_000
PRUNE_BATCH = 100
"""Expired rows one failure deletes at most: more than the two it may add, so the table stays bounded."""


@dataclass(frozen=True)
class Policy:
    """How many failures within a window lock a key, and for how long."""

    failures: int
    window: int
    """Microseconds over which failures count."""
    lock: int
    """Microseconds a key stays locked once it reached ``failures``."""
    kind: str
    """What the key is (``name``, ``address``): part of the digest, so a name and an address never meet."""

    def fail(self, record: FailureRecord, now: int) -> FailureRecord:
        """Return ``record`` with a failure at ``now`` added: locked at ``failures`` within the window."""
        times = tuple(t for t in (*record.failures, now) if t > now - self.window)
        if len(times) >= self.failures:
            return FailureRecord(record.digest, (), now + self.lock, now + self.lock)
        return FailureRecord(
            record.digest, times, record.locked_until, max(record.locked_until, now + self.window)
        )


BY_USER_NAME = Policy(failures=5, window=15 * 60 * SECOND, lock=15 * 60 * SECOND, kind="name")
"""Five wrong passwords for one user name within 15 minutes lock that name for 15 minutes."""
BY_ADDRESS = Policy(failures=20, window=15 * 60 * SECOND, lock=15 * 60 * SECOND, kind="address")
"""Twenty failures from one address within 15 minutes, whatever the names, lock the address for 15 minutes."""


def name_key(user_name: str) -> str:
    """Return the key of a user name as typed: NFC, lower case, as user names are compared."""
    return fold(user_name.strip()).lower()


class Lockout:
    """Count sign-in failures per user name and per address in the database; tell when one is locked."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        secret: bytes,
        by_name: Policy = BY_USER_NAME,
        by_address: Policy = BY_ADDRESS,
    ) -> None:
        """``secret``: the token hash salt, from which the digests' own key is derived."""
        self._store = store
        self._clock = clock
        self._key = hmac.new(secret, b"scimhub sign-in lock-out", hashlib.sha256).digest()
        self._by_name = by_name
        self._by_address = by_address

    def digest(self, policy: Policy, key: str) -> str:
        """Return what the database keeps of ``key``: the HMAC of ``policy``'s kind and the key, hex."""
        return hmac.new(self._key, f"{policy.kind}\0{key}".encode(), hashlib.sha256).hexdigest()

    def _digests(self, user_name: str, address: str) -> list[tuple[str, Policy]]:
        keys = [(self.digest(self._by_name, name_key(user_name)), self._by_name)]
        keys.append((self.digest(self._by_address, address), self._by_address))
        return sorted(keys, key=lambda pair: pair[0])  # one order for every transaction: no deadlock

    def _seconds(self, locked_until: int, now: int) -> int:
        return max(0, -(-(locked_until - now) // SECOND))

    def retry_after(self, user_name: str, address: str) -> int:
        """Return the seconds until ``user_name`` may try from ``address``; 0 when neither is locked."""
        digests = [digest for digest, _ in self._digests(user_name, address)]
        with self._store.read() as tx:
            locked_until = tx.failures.locked_until(digests)
        return self._seconds(locked_until, self._clock())

    def failed(self, user_name: str, address: str) -> int:
        """Count a failure for the name and the address; return the seconds of the lock left (0: none)."""
        now, latest = self._clock(), 0
        with self._store.transaction() as tx:
            for digest, policy in self._digests(user_name, address):
                record = policy.fail(tx.failures.claim(digest, now), now)
                tx.failures.put(record)
                latest = max(latest, record.locked_until)
            tx.failures.prune(now, PRUNE_BATCH)
        return self._seconds(latest, now)

    def succeeded(self, user_name: str) -> None:
        """Forget the failures of ``user_name`` (a right password for a name that was not locked).

        The address's count stays: one right password must not clear a sweep over other names.
        """
        with self._store.transaction() as tx:
            tx.failures.forget(self.digest(self._by_name, name_key(user_name)))
