"""Hearing about commits: PostgreSQL ``LISTEN``, and a patient wait where there is none.

Every transaction that writes events sends ``NOTIFY scimhub_events, '<seq>'``
(``events.py``); PostgreSQL delivers it to every listening connection when, and
only if, the transaction commits. The server listens on one connection per
process (``listen_for_commits``) while a long poll waits there, and up to a
minute after the last one (``KEEPALIVE_SECONDS``): each commit's notification wakes
every listening process and its backend, which costs a provisioning process
without readers of the feed a few per cent of each write (ADR 0070).
``scimhub events tail --follow`` listens on its own (``CommitWaiter``). SQLite
has no channel between processes: the server asks ``max(seq)`` once a second
while a poll waits (``feed.longpoll.watch_head``) and the CLI re-reads once a
second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine

from scimhub.store.sql.events import CHANNEL

log = logging.getLogger("scimhub.feed")

KEEPALIVE_SECONDS = 30.0
"""How long a listener hears before it checks that its connection is alive and that someone still waits."""
RECONNECT_SECONDS = 1.0
LISTENER_NAME = "scimhub-listener"
"""The listening connection's ``application_name``, as ``pg_stat_activity`` shows it."""


def conninfo(engine: Engine) -> str:
    """Return the libpq connection URI of a PostgreSQL engine (with its password)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Hearing(Protocol):
    """Whom a listener tells of commits and asks whether anyone waits (``feed.longpoll.Notifier``)."""

    waits: int
    """How many waits have begun, ever."""

    @property
    def waiting(self) -> int:
        """Return how many wait now."""
        ...

    def advance(self, seq: int) -> None:
        """Hear that events up to ``seq`` committed."""

    async def wanted(self) -> None:
        """Return once someone waits."""


async def listen_for_commits(engine: Engine, hearing: Hearing, read_head: Callable[[], int]) -> None:
    """Tell ``hearing`` the highest ``seq`` of every commit of events on a PostgreSQL database, forever.

    Listens while someone waits to hear, and until no one has for a whole ``KEEPALIVE_SECONDS``;
    then closes its connection until someone waits again. Each time it starts listening, after a
    lost connection too, it reports ``read_head()``: the commits made while no one listened were
    not heard, and a poll that began to wait before the ``LISTEN`` took effect hears of them so.
    """
    import psycopg  # the postgres extra; only PostgreSQL engines get here

    while True:
        await hearing.wanted()
        try:
            await _listen_while_wanted(psycopg, conninfo(engine), hearing, read_head)
        except (psycopg.Error, OSError) as error:
            log.warning("event listener lost its connection (%s); reconnecting", type(error).__name__)
            await asyncio.sleep(RECONNECT_SECONDS)


async def _listen_while_wanted(
    psycopg: Any, uri: str, hearing: Hearing, read_head: Callable[[], int]
) -> None:
    connecting = psycopg.AsyncConnection.connect(uri, autocommit=True, application_name=LISTENER_NAME)
    async with await connecting as connection:
        await connection.execute(_listen_statement(psycopg))
        hearing.advance(await asyncio.to_thread(read_head))
        while True:
            began = hearing.waits
            async for notification in connection.notifies(timeout=KEEPALIVE_SECONDS):
                hearing.advance(int(notification.payload))
            if not hearing.waiting and hearing.waits == began:
                return  # no one waited all the while: stop listening until someone does
            await connection.execute("SELECT 1")  # a dead connection raises here instead of hanging


def _listen_statement(psycopg: Any) -> Any:
    return psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(CHANNEL))


class CommitWaiter:
    """Block until some process commits events, or a timeout passes (for ``events tail --follow``)."""

    def __init__(self, engine: Engine) -> None:
        self._connection: Any = None
        if engine.dialect.name == "postgresql":
            import psycopg

            self._connection = psycopg.connect(conninfo(engine), autocommit=True)
            self._connection.execute(_listen_statement(psycopg))

    def wait(self, timeout: float) -> None:
        """Return after the next commit of events (PostgreSQL), or after ``timeout`` seconds."""
        if self._connection is None:
            time.sleep(timeout)
            return
        for _ in self._connection.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        """Stop listening."""
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> CommitWaiter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
