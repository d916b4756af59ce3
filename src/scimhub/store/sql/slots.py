"""A request's work in a greenlet, so that its waits for PostgreSQL let the event loop run (ADR 0066).

The use cases and the store are synchronous. Run on the event loop, each round trip to PostgreSQL
used to hold the loop until the server answered: half of a create's time (ADR 0064). ``Slots.run``
runs a request's work in a greenlet (SQLAlchemy's ``greenlet_spawn``), where the store's
PostgreSQL connections await their waits (``cooperative.CooperativeConnection``).

A connection is used by one caller at a time, so each request in flight needs its own. ``run``
lets ``WORK_IN_FLIGHT`` requests interleave on a loop, each holding a ``Slot``; the store keeps
its connections per slot as it keeps them per thread (``owner``), so their number is bounded and
none is taken from the pool per request.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.util.concurrency import greenlet_spawn, in_greenlet

T = TypeVar("T")

WORK_IN_FLIGHT = 4
"""How many requests' work one event loop interleaves on PostgreSQL. Two already keep the loop busy
while the others wait for the server (in process: 960 µs of CPU and 984 µs of wall time a create
with two, 1,031 and 1,034 with eight). A slot is held for round trips only: a write that would wait
for a lock gives up after ``LOOP_LOCK_WAIT_MS`` and moves to a core thread (ADR 0058), or four
waits would stop the process. Each slot keeps two connections: one for its reads, writes and lone
statements, as a core thread does, and the brief write's (ADR 0067)."""


class Slot:
    """One of an event loop's ``WORK_IN_FLIGHT`` places for a request's work: who keeps connections."""

    __slots__ = ("number", "_loop")

    def __init__(self, number: int, loop: asyncio.AbstractEventLoop) -> None:
        self.number = number
        self._loop = weakref.ref(loop)

    def is_alive(self) -> bool:
        """Whether its loop still runs: what it kept goes back to the pool once it ended, as a thread's."""
        loop = self._loop()
        return loop is not None and not loop.is_closed()

    def __repr__(self) -> str:
        return f"<work slot {self.number}>"


Owner = threading.Thread | Slot
"""Who keeps a connection between uses: a thread, or a slot of the event loop's work."""

_slot: ContextVar[Slot | None] = ContextVar("scimhub_work_slot", default=None)


def owner() -> Owner:
    """Return who the caller's connections belong to: its slot within ``run``, else its thread."""
    slot = _slot.get()
    return slot if slot is not None and in_greenlet() else threading.current_thread()


class Slots:
    """The slots of one event loop, handed out in turn to the requests whose work runs on it.

    A slot given back goes straight to the request that has waited longest. Put back among the free
    ones, it went to whichever request asked next, often one just arrived, while the one woken for
    it found none and queued again, last: under a steady load some requests waited half a second.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int = WORK_IN_FLIGHT) -> None:
        self._loop = loop
        # Last in, first out: under a light load the same few slots, and their connections, serve.
        self._free = [Slot(number, loop) for number in reversed(range(count))]
        self._waiting: collections.deque[asyncio.Future[Slot]] = collections.deque()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in a greenlet holding a free slot; its waits for PostgreSQL are awaited."""
        slot = self._free.pop() if self._free else await self._next_free()
        token = _slot.set(slot)
        try:
            return await greenlet_spawn(function, *args)
        finally:
            _slot.reset(token)
            self._give_back(slot)

    async def _next_free(self) -> Slot:
        waiter: asyncio.Future[Slot] = self._loop.create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot, then cancelled: pass it on
                self._give_back(waiter.result())
            raise

    def _give_back(self, slot: Slot) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a waiter cancelled meanwhile is skipped
                waiter.set_result(slot)
                return
        self._free.append(slot)
