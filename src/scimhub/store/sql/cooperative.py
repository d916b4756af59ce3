"""PostgreSQL connections whose waits a request's greenlet hands to the event loop (ADR 0066).

psycopg's synchronous connection, with one change: called from the greenlet of a request's work
(``slots.Slots.run``), a wait for the socket is awaited on the event loop (SQLAlchemy's ``await_``,
what its own asyncio extension is built on), which serves other requests meanwhile. Everywhere else
(the core's threads, the tools) it waits as before. Imported only for PostgreSQL: psycopg is an extra.

psycopg drives each exchange with the server as a generator that says what it waits for; each wait
is awaited on the loop. A round trip waits once, for the server's answer: ``libpq.run`` queues its
statements without a wait and sends them in one write (ADR 0089), and a socket is waited on to be
written only when it takes no more, or while a connection is being made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.waiting import Ready, Wait
from sqlalchemy.util.concurrency import await_, in_greenlet

# psycopg's flags as plain ints: cheaper to test than an enum's attribute.
_WAIT_R, _WAIT_W = int(Wait.R), int(Wait.W)
_READY_R, _READY_W = int(Ready.R), int(Ready.W)


class CooperativeConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits, in a greenlet of ``Slots.run``, let the event loop run meanwhile."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        """Consume ``gen`` as psycopg does; in a greenlet of the loop's work, awaiting the socket."""
        if timeout is not None or not in_greenlet():  # a timed wait (a cancellation's) blocks, briefly
            return super().wait(gen, interval, timeout)
        fileno = self.pgconn.socket
        cancelled: asyncio.CancelledError | None = None
        try:
            state = next(gen)
            while True:
                try:
                    ready = _on_the_loop(fileno, state)
                except asyncio.CancelledError as error:
                    # The request's task was cancelled (the server stopping) mid-exchange: the
                    # exchange goes on to its end, so that the connection stays sound, then the
                    # work unwinds as from any error, its transaction rolled back.
                    cancelled = error
                    continue
                state = gen.send(ready)
        except StopIteration as done:
            if cancelled is not None:
                raise cancelled from None
            return done.value
        except OSError as error:
            raise psycopg.OperationalError("connection socket closed") from error


def _on_the_loop(fileno: int, state: int) -> Any:
    """Wait on the event loop until ``fileno`` is ready for what ``state`` waits for; return for what."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()

    def stop() -> None:
        if state & _WAIT_R:
            loop.remove_reader(fileno)
        if state & _WAIT_W:
            loop.remove_writer(fileno)

    def heard(flag: int) -> None:
        stop()
        ready.set_result(flag)

    if state & _WAIT_R:
        loop.add_reader(fileno, heard, _READY_R)
    if state & _WAIT_W:
        loop.add_writer(fileno, heard, _READY_W)
    try:
        return await_(ready)
    except BaseException:  # cancelled: the loop must not call back for a socket no one waits on
        stop()
        raise
