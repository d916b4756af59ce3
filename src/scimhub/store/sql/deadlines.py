"""A search's time on the database, bounded: past ``SEARCH_SECONDS`` a statement stops, and it is ``TooMany``.

ADR 0025 bounds a search's terms, not the rows they are tried on, nor what a term costs a row: the
worst left over stored text is about 1 s a stored megabyte (ADR 0087), and a table scan is as long
as the table. On SQLite a search runs on the event loop (ADR 0046), where the whole process waits
for it. So each search's statements get a deadline (ADR 0088):

- PostgreSQL: ``SET LOCAL statement_timeout`` goes ahead of the search's first statement, in its
  round trip, and its reset ahead of the transaction's next one: each statement of the search has
  the deadline.
- SQLite: the search's connection has a progress handler while it runs, which stops its statement
  once the deadline has passed: the search as a whole has it.

A lookup (one statement by an index: every request Entra sends most) carries none.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from scimhub.errors import ServiceUnavailable, TooMany
from scimhub.store.sql.prepared import ahead

SEARCH_SECONDS = 10.0
"""The longest a search's statement may run. A scan of a million users' titles takes about 2.6 s on
SQLite and 0.7 s on PostgreSQL (``bench/bounds.py``)."""

PROGRESS_STEPS = 100
"""SQLite's virtual machine instructions between two calls of the progress handler. A row takes tens
(a function call over a long text is one), so the deadline is met within a few rows; a bare scan of
100,000 rows costs 5 % more for it. At 1,000 it cost 1.4 %, but twenty ``LIKE`` terms over five
64 KB titles ran fewer instructions than that, and were never stopped."""

_CANCELLED = "57014"  # PostgreSQL's query_canceled: a statement timeout among others
_NO_TIMEOUT = [(text("SET LOCAL statement_timeout TO DEFAULT"), None)]


@contextmanager
def search_deadline(connection: Connection) -> Iterator[None]:
    """Bound each statement run within on ``connection`` to ``SEARCH_SECONDS``.

    :raises TooMany: A statement ran past the deadline, and was stopped.
    """
    seconds = SEARCH_SECONDS
    postgresql = connection.dialect.name == "postgresql"
    timed = postgresql and connection.in_transaction()  # a lone statement has none to hold it (ADR 0057)
    if timed:
        milliseconds = max(1, round(seconds * 1000))  # 0 would turn the timeout off
        ahead(connection, [(text(f"SET LOCAL statement_timeout = {milliseconds}"), None)], _untranslated)
    started = time.monotonic()
    sqlite = None if postgresql else connection.connection.dbapi_connection
    if sqlite is not None:
        deadline = started + seconds
        sqlite.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    try:
        yield
        if timed:  # the transaction's later reads (a group's members, counts) are not the search's
            ahead(connection, _NO_TIMEOUT, _untranslated)
    except (DBAPIError, ServiceUnavailable) as error:  # the engine reads a cancel as a lock not had
        if time.monotonic() - started < seconds or not _stopped(error):
            raise
        raise TooMany(
            f"the search ran longer than the {seconds:g} s a search may run on the database;"
            " narrow its filter"
        ) from None
    finally:
        if sqlite is not None:
            sqlite.set_progress_handler(None, 0)


def _untranslated(_: BaseException) -> None:
    return None  # an error of the round trip is the search's, read as the search's


def _stopped(error: BaseException) -> bool:
    """Whether ``error`` says a statement was stopped: SQLite interrupted, PostgreSQL cancelled."""
    cause = getattr(error, "orig", error.__cause__)
    if getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
        return True
    return getattr(cause, "sqlstate", None) == _CANCELLED
