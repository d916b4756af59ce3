"""PostgreSQL connections whose waits a request's greenlet hands to the event loop (ADR 0066).

psycopg's synchronous connection, with one change: called from the greenlet of a request's work
(``slots.Slots.run``), a wait for the socket is awaited on the event loop (SQLAlchemy's ``await_``,
what its own asyncio extension is built on), which serves other requests meanwhile. Everywhere else
(the core's threads, the tools) it waits as before. Imported only for PostgreSQL: psycopg is an extra.

psycopg drives each exchange with the server as a generator that says what it waits for; each wait
is awaited on the loop. A round trip waits once, for the server's answer: ``libpq.run`` queues its
statements without a wait and sends them in one write (ADR 0089), and a socket is waited on to be
written only when it takes no more, or while a connection is being made.

A connection of the server's (``engine.bound_answers``) also gives up on a server that stays silent:
past ``answer_within`` seconds without a byte while a wait is on, the wait fails as a lost connection
(the request gets a 503, the connection is dropped). A PostgreSQL stopped or stuck would otherwise hold
the request, its slot or core thread, and with several processes the whole event loop (ADR 0090).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from time import monotonic
from typing import Any

import psycopg
from psycopg.waiting import Ready, Wait
from sqlalchemy.util.concurrency import await_, in_greenlet

# psycopg's flags as plain ints: cheaper to test than an enum's attribute.
_WAIT_R, _WAIT_W = int(Wait.R), int(Wait.W)
_READY_R, _READY_W = int(Ready.R), int(Ready.W)
_SILENT = -1
"""What a greenlet's wait answers when its timer ran out: the server was silent for the whole bound.
Not a time to compare: the loop's clock, cached per turn, may fire the timer a little early by
``monotonic()``, and a second full wait would then double the bound."""


class CooperativeConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits, in a greenlet of ``Slots.run``, let the event loop run meanwhile."""

    answer_within: float | None = None
    """Seconds the server may stay silent while a wait is on before the wait fails; None: for ever."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        """Consume ``gen`` as psycopg does; in a greenlet of the loop's work, awaiting the socket."""
        silence = self.answer_within if timeout is None else None  # a timed wait is bounded already
        if silence is not None:
            gen = _heard_within(gen, silence)
        if timeout is not None or not in_greenlet():  # a timed wait (a cancellation's) blocks, briefly
            # psycopg's wait wakes every ``interval`` and sends 0: ``_heard_within`` then looks at the time.
            return super().wait(gen, interval, timeout)
        fileno = self.pgconn.socket
        cancelled: asyncio.CancelledError | None = None
        try:
            state = next(gen)
            while True:
                try:
                    ready = _on_the_loop(fileno, state, silence)
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


def connect(*args: Any, **kwargs: Any) -> CooperativeConnection:
    """Return a new ``CooperativeConnection``; in a greenlet of the loop's work, made in a thread.

    psycopg waits for a connection to be made in a blocking way of its own, not through ``wait``:
    up to ``connect_timeout`` for a server that accepts nothing, a frozen one (ADR 0090). On the
    loop's thread that would stop every other request, ``/healthz`` included, for as long.
    """
    if not in_greenlet():
        return CooperativeConnection.connect(*args, **kwargs)
    abandoned = threading.Event()

    def connecting() -> CooperativeConnection:
        connection = CooperativeConnection.connect(*args, **kwargs)
        if abandoned.is_set():  # the work was cancelled meanwhile: no one will use or close it
            connection.close()
        return connection

    try:
        return await_(asyncio.get_running_loop().run_in_executor(None, connecting))
    except BaseException:
        abandoned.set()
        raise


class NoAnswer(psycopg.OperationalError):
    """PostgreSQL sent nothing for ``answer_within`` seconds while a wait was on (ADR 0090).

    An error without a SQLSTATE on an established connection: SQLAlchemy's error path takes it for a
    lost connection, drops the connection and answers 503 (``engine._unavailability``).
    """


def _heard_within(gen: Any, seconds: float) -> Generator[int, int, Any]:
    """Run ``gen``, psycopg's exchange; raise ``NoAnswer`` when a wait gets nothing for ``seconds``.

    A wait that ends with nothing ready (0: psycopg's blocking wait after its ``interval``) looks at the
    time; ``_SILENT`` (the loop's timer) is the bound reached; one that ends ready starts the count again.
    """
    try:
        state = next(gen)
        silent_until = monotonic() + seconds
        while True:
            ready = yield state
            if ready > 0:
                silent_until = monotonic() + seconds
            elif ready == _SILENT or monotonic() >= silent_until:
                gen.close()
                raise NoAnswer(f"PostgreSQL sent nothing for {seconds:g} s; the connection is dropped")
            state = gen.send(ready)
    except StopIteration as done:  # ``gen`` ended, at once or after a wait: its value is the exchange's
        return done.value


def _on_the_loop(fileno: int, state: int, silence: float | None) -> Any:
    """Wait on the event loop until ``fileno`` is ready for what ``state`` waits for; return for what.

    After ``silence`` seconds without it, return ``_SILENT``.
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    timer = None if silence is None else loop.call_later(silence, lambda: heard(_SILENT))

    def stop() -> None:
        if state & _WAIT_R:
            loop.remove_reader(fileno)
        if state & _WAIT_W:
            loop.remove_writer(fileno)
        if timer is not None:
            timer.cancel()

    def heard(flag: int) -> None:
        stop()
        if not ready.done():  # the socket and the timer in one turn of the loop: the first one counts
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
