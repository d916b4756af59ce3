"""Hearing about commits: PostgreSQL ``LISTEN``, and a patient wait where there is none.

Every transaction that writes events sends ``NOTIFY scimhub_events, '<seq>'``
(``events.py``); PostgreSQL delivers it to every listening connection when, and
only if, the transaction commits. The server listens on one connection per
process (``listen_for_commits``); ``scimhub events tail --follow`` on its own
(``CommitWaiter``). SQLite has no channel between processes: the server asks
``max(seq)`` once a second while a poll waits (``feed.longpoll.watch_head``)
and the CLI re-reads once a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from scimhub.store.sql.events import CHANNEL

log = logging.getLogger("scimhub.feed")

KEEPALIVE_SECONDS = 30.0
"""A listener that heard nothing for this long checks its connection is still alive."""
RECONNECT_SECONDS = 1.0


def conninfo(engine: Engine) -> str:
    """Return the libpq connection URI of a PostgreSQL engine (with its password)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_commits(
    engine: Engine, heard: Callable[[int], None], read_head: Callable[[], int]
) -> None:
    """Call ``heard`` with the highest ``seq`` of every commit of events on a PostgreSQL database, forever.

    Reconnects after losing the connection, and then reports ``read_head()``:
    the commits made while no one listened were not heard.
    """
    import psycopg  # the postgres extra; only PostgreSQL engines get here

    while True:
        try:
            await _listen_until_lost(psycopg, conninfo(engine), heard, read_head)
        except (psycopg.Error, OSError) as error:
            log.warning("event listener lost its connection (%s); reconnecting", type(error).__name__)
        await asyncio.sleep(RECONNECT_SECONDS)


async def _listen_until_lost(
    psycopg: Any, uri: str, heard: Callable[[int], None], read_head: Callable[[], int]
) -> None:
    async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as connection:
        await connection.execute(_listen_statement(psycopg))
        heard(await asyncio.to_thread(read_head))
        while True:
            async for notification in connection.notifies(timeout=KEEPALIVE_SECONDS):
                heard(int(notification.payload))
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
