"""PostgreSQL statements sent through psycopg's libpq connection, without its cursor (ADR 0074).

A request runs two to five statements on PostgreSQL, each already compiled once per shape
(``prepared._Plan``). psycopg's cursor does for each what a general driver must: it parses the
query's placeholders, looks it up in its own cache of prepared statements, keeps a pipeline's
queue of cursors and results in Python; a profile of creates under load found most of the time
spent in psycopg there, not in libpq. What scimhub's plans need of it is less: the values dumped
by psycopg's own adapters (``Transformer``, in C), each statement prepared once per connection,
every statement of a round trip sent in one libpq pipeline and its rows loaded by psycopg's
loaders. That is what this module does, on the connection's ``pgconn``, through psycopg's own
non-blocking generators, so that waits go through the connection's ``wait`` (the greenlet's,
``cooperative``) as before.

A statement is prepared under a name of scimhub's own (``scimhub_<n>``, distinct from psycopg's
``_pg3_<n>``), once per connection and parameter types: psycopg dumps an int as ``int2``, ``int4``
or ``int8`` by its size, and a statement prepared for one cannot take another in binary. A name
counts as prepared only once PostgreSQL said so.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import count
from typing import Any

import psycopg
from psycopg import abc, errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import fetch_many
from psycopg.waiting import READY_R, WAIT_RW

_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC
AUTO = PyFormat.AUTO
_LIBPQ_WITH_CLOSE = 170000
"""The first libpq that closes a prepared statement by the protocol (``PQsendClosePrepared``)."""


_Key = tuple[bytes, tuple[int, ...] | None]
"""A prepared statement's query and the types of its values (none for a statement without values)."""


@dataclass
class Statement:
    """One statement's SQL with ``$n`` placeholders, and how its rows are made."""

    query: bytes
    formats: list[PyFormat]
    """How each value is dumped: as psycopg's adapters choose."""
    row: Callable[[Sequence[Any]], Any] | None
    """Makes one row of the statement's values; None when no one reads its rows."""


PREPARED_KEPT = 100
"""Statements kept prepared per connection, the least recently run closed first (psycopg's own
``prepared_max``): each holds its plan in the server's memory, about 55 KB for a filter's."""


@dataclass
class _Session:
    """What one PostgreSQL connection keeps between round trips."""

    transformer: abc.Transformer
    prepared: OrderedDict[_Key, bytes] = field(default_factory=OrderedDict)
    """Each statement's prepared name, by its query and its values' types; the least recently run first."""
    names: Iterator[int] = field(default_factory=count)
    """Numbers of names never sent yet: a name whose preparation was not known to succeed (an error
    before it, a cancelled wait) is never used again, whatever became of it."""


_SESSION = "scimhub_libpq"
"""The key of a connection's ``_Session`` in the pool's ``info`` of it, cleared when it is replaced."""


def run(
    driver: psycopg.Connection[Any],
    info: dict[Any, Any],
    statements: Sequence[tuple[Statement, Sequence[Sequence[Any]]]],
) -> list[list[Any]]:
    """Run each statement once per list of values, in order, in one round trip; return each one's rows.

    ``info`` is what the pool keeps with ``driver`` (emptied when it replaces it). The rows of a
    statement run several times are those of its last run (no one reads them: they are a
    write's). The first error stops the rest (PostgreSQL skips what follows it up to the round
    trip's end) and is raised as psycopg raises it, once the round trip is over.
    """
    session: _Session | None = info.get(_SESSION)
    if session is None:
        driver.prepare_threshold = None  # psycopg deallocates all it prepared after a rollback: ours too
        session = info[_SESSION] = _Session(Transformer(driver))
    pgconn, transformer, prepared = driver.pgconn, session.transformer, session.prepared
    commands: deque[Callable[..., Any]] = deque()
    answers: list[_Key | int | None] = []
    """Per command before the Sync, what its result says: a statement prepared (its key), a
    statement's rows (its index), or nothing (a statement closed)."""
    preparing: dict[_Key, bytes] = {}
    for index, (statement, runs) in enumerate(statements):
        for values in runs:
            dumped = transformer.dump_sequence(values, statement.formats)
            types = transformer.types
            key = (statement.query, types)
            name = prepared.get(key)
            if name is not None:
                prepared.move_to_end(key)
            elif (name := preparing.get(key)) is None:
                name = preparing[key] = b"scimhub_%d" % next(session.names)
                commands.append(partial(pgconn.send_prepare, name, statement.query, types))
                answers.append(key)
            commands.append(partial(pgconn.send_query_prepared, name, dumped, transformer.formats))
            answers.append(index)
    for name in _closing(prepared, len(preparing) + len(prepared) - PREPARED_KEPT, len(answers)):
        commands.appendleft(partial(_close, pgconn, name))  # first: its name goes free before any error
        answers.insert(0, None)
    commands.append(pgconn.pipeline_sync)
    results = _exchanged(driver, commands)
    if len(results) < len(answers):
        raise psycopg.OperationalError(f"the server answered {len(results)} of {len(answers)} commands")
    fetched: list[list[Any]] = [[] for _ in statements]
    failed = None
    for group, answer in zip(results, answers, strict=False):  # a failed commit's answer may follow
        result = group[-1]
        if result.status == _FATAL_ERROR:
            failed = failed or result
        elif isinstance(answer, tuple):  # prepared: its name serves from now on
            if result.status == _COMMAND_OK:
                prepared[answer] = preparing[answer]
        elif answer is not None and result.status == _TUPLES_OK:
            make = statements[answer][0].row
            if make is not None:
                transformer.set_pgresult(result)
                fetched[answer] = transformer.load_rows(0, result.ntuples, make)
    # After the commands' own: what the Sync answered when it ended the transaction and its commit
    # failed (a lock not had in time, a deferred constraint; ADR 0075). The transaction's error too.
    for group in results[len(answers) :]:
        failed = failed or next((r for r in group if r.status == _FATAL_ERROR), None)
    if failed is not None:
        raise errors.error_from_result(failed, encoding=driver.info.encoding)
    return fetched


def _exchanged(driver: psycopg.Connection[Any], commands: deque[Callable[..., Any]]) -> list[list[Any]]:
    """Send ``commands``, the last a Sync, in pipeline mode; return the results before the Sync's."""
    pgconn = driver.pgconn
    pgconn.enter_pipeline_mode()
    try:
        results: list[list[Any]] = driver.wait(_exchange(pgconn, commands))
        pgconn.exit_pipeline_mode()
    except BaseException:
        try:
            pgconn.exit_pipeline_mode()
        except psycopg.Error:  # left mid-exchange (the connection lost): the pool must replace it
            driver.close()
        raise
    return results


def _closing(prepared: OrderedDict[_Key, bytes], excess: int, keep_last: int) -> list[bytes]:
    """Forget the ``excess`` least recently run of ``prepared``; return their names, to close.

    The last ``keep_last`` stay: the round trip's own were moved to the end, and are no more.
    """
    closing: list[bytes] = []
    while excess > 0 and len(prepared) > keep_last:
        closing.append(prepared.popitem(last=False)[1])
        excess -= 1
    return closing


def _close(pgconn: Any, name: bytes) -> None:
    """Queue the closing of the prepared statement ``name``: libpq's Close, which no name makes fail."""
    if pq.version() >= _LIBPQ_WITH_CLOSE:
        pgconn.send_close_prepared(name)
    else:  # an older libpq: the statement, for a name known to be prepared
        pgconn.send_query_params(b"DEALLOCATE " + name, None)


def _exchange(pgconn: Any, commands: deque[Callable[..., Any]]) -> Any:
    """Send ``commands`` and read what they answer up to the Sync's answer, the last; return the rest.

    Every command goes into libpq's buffer first and out in as few writes as the socket takes: one,
    nearly always. psycopg's ``pipeline_communicate`` flushes before each command, so a round trip of
    five went out in five writes, each a wake-up of the server's backend (ADR 0089). What the server
    answers meanwhile is read as it comes, so that neither side waits on the other's buffer.

    One generator for the whole of it: a wait cancelled midway goes on to its end
    (``CooperativeConnection.wait``), and the connection is left between round trips. It reads up
    to the Sync rather than counting: a commit that fails at the Sync answers once more.
    """
    for command in commands:
        command()
    while pgconn.flush():
        if (yield WAIT_RW) & READY_R:
            pgconn.consume_input()
    results: list[list[Any]] = []
    while not results or results[-1][-1].status != _PIPELINE_SYNC:
        group = yield from fetch_many(pgconn)
        if not group:  # libpq has nothing more to give: the exchange is broken, not merely failed
            raise psycopg.OperationalError("the server's answer ended before the round trip's end")
        results.append(group)
    return results[:-1]
