"""Long polls: wait for the next commit without asking the database again and again.

One ``Notifier`` per process, on its event loop, knows the highest ``seq`` it has
heard of. Three sources tell it:

- this process's own commits (``Store.on_commit``), at once;
- on PostgreSQL, ``LISTEN``: every process's commits, at commit, while a poll
  waits and for a while after (``store/sql/notify.py``);
- on SQLite, which has no such channel, ``watch_head``: one cheap query
  (``max(seq)``) a second, and only while a poll is waiting, for the commits of
  other processes such as the CLI.

A waiting poll holds no thread and no database connection. It never misses a
wake-up: it first compares with what the notifier already heard, and the
notifier's ``head`` only grows, so a commit heard between a poll's read and its
wait is seen by the comparison.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("scimhub.feed")

FALLBACK_SECONDS = 1.0
"""How often ``watch_head`` asks the database while a poll waits (SQLite only)."""


class Notifier:
    """Know the newest committed ``seq`` heard of, and wake the polls waiting beyond it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._waiters: set[asyncio.Future[None]] = set()
        self._wanted = asyncio.Event()
        self.head = 0
        """The highest ``seq`` heard of; only grows."""
        self.waits = 0
        """How many waits have begun, ever: a listener tells by it whether any began meanwhile."""
        self.closed = False
        """Set by ``close``: every wait ends at once, as if its time were up."""

    @property
    def waiting(self) -> int:
        """Return how many polls are waiting."""
        return len(self._waiters)

    def advance(self, seq: int) -> None:
        """Record that events up to ``seq`` committed and wake every waiter; call on the loop."""
        if seq <= self.head:
            return
        self.head = seq
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """End every wait, now and later, as if its time were up (the server is shutting down)."""
        self.closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def advance_threadsafe(self, seq: int) -> None:
        """Do ``advance`` from any thread (a commit listener runs in the committing thread).

        On the loop's own thread, where most writes commit (ADR 0058), at once: scheduling it would
        wake the loop through its self-pipe for every write.
        """
        if threading.get_ident() == self._loop_thread:
            self.advance(seq)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.advance, seq)

    async def wanted(self) -> None:
        """Return once a poll waits (at once if one does)."""
        await self._wanted.wait()

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait until a ``seq`` larger than ``seq`` is heard of, at most ``timeout`` seconds; tell whether."""
        deadline = self._loop.time() + timeout
        while self.head <= seq:
            remaining = deadline - self._loop.time()
            if remaining <= 0 or self.closed:
                return False
            waiter = self._loop.create_future()
            self._waiters.add(waiter)
            self.waits += 1
            self._wanted.set()
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return self.head > seq
            finally:
                self._waiters.discard(waiter)
                if not self._waiters:
                    self._wanted.clear()
        return True


Watch = Callable[[Notifier], Coroutine[Any, Any, None]]
"""Feed a notifier with the commits of other processes until cancelled."""


def watch_head(read_head: Callable[[], int], interval: float = FALLBACK_SECONDS) -> Watch:
    """Return a watch that reads the newest ``seq`` every ``interval`` seconds while a poll waits."""

    async def watch(notifier: Notifier) -> None:
        while True:
            await asyncio.sleep(interval)
            if not notifier.waiting:
                continue
            try:
                notifier.advance(await asyncio.to_thread(read_head))
            except Exception:  # noqa: BLE001 - a database hiccup must not end the watch
                log.warning("could not read the newest event; retrying in %s s", interval, exc_info=True)

    return watch
