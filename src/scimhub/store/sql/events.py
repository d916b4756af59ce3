"""The change outbox on SQL: events buffered during a transaction, written right before it commits.

On PostgreSQL (ADR 0050, which replaces the lock through ``COMMIT`` of ADR 0011)
a write inserts its events into ``event_queue``, with an ``id`` from that
table's sequence and no ``seq``, as the last step of its transaction, and
commits without any lock: writes carrying events commit together, and
PostgreSQL flushes their commits to disk together. Right after the commit, on
the same connection, ``number_queued`` runs one short pass in one round trip:
it takes the commit-order lock (``pg_advisory_xact_lock``), moves every queued
row into ``events`` in ``id`` order, giving each the next ``seq``, sends
``NOTIFY`` with the highest, and commits, which releases the lock. So:

- ``seq`` order is the order of the passes, and a pass commits before the next
  one starts numbering: a snapshot that sees ``seq`` n sees every ``seq`` below
  it that will ever commit (ADR 0011's argument, now about the passes);
- a pass's statement starts after it holds the lock, so it sees every write
  committed before that moment; the writer's own pass starts after the
  writer's commit, so when ``transaction()`` returns, its events are numbered
  (by its own pass or by one that started after its commit);
- a write that waited for another's row lock inserts its events after that
  one committed, so it has the larger ``id`` and, whether the two meet in one
  pass or not, the larger ``seq``;
- a write whose pass never ran (the process was killed between the two
  commits) left its events queued, durable; the next pass, of any write or any
  feed read (``SqlStore.number_events``), numbers them.

SQLite needs none of it: ``BEGIN IMMEDIATE`` serializes writers whole, so the
events go straight into ``events`` through one prebuilt ``INSERT … RETURNING
seq`` run with the list of rows (SQLAlchemy's *insertmanyvalues*, at most 1,000
rows a statement, in order; ADR 0015).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from scimhub.domain.events import Category, ChangeEvent, Operation, RecordedEvent
from scimhub.store.records import EventQuery, FeedState
from scimhub.store.sql.prepared import in_turn
from scimhub.store.sql.tables import event_feed, event_queue, events

CHANNEL = "scimhub_events"
"""The PostgreSQL ``LISTEN``/``NOTIFY`` channel; the payload is the highest ``seq`` committed."""
COMMIT_ORDER_LOCK = 0x5C1A_E7E4
"""Key of the advisory lock held by a numbering pass (ADR 0011, ADR 0050)."""
_INSERT = insert(events).returning(events.c.seq)
_QUEUE = insert(event_queue).values(
    {c.name: bindparam(c.name) for c in event_queue.c if c.name not in ("id", "writer")}
    | {"writer": func.txid_current()}
)
_FIELDS = ", ".join(c.name for c in events.c if c is not events.c.seq)
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({COMMIT_ORDER_LOCK})"
_NUMBER_SQL = (
    f"WITH queued AS (DELETE FROM event_queue RETURNING id, writer, {_FIELDS}),"
    f" numbered AS (INSERT INTO events (seq, {_FIELDS})"
    f" SELECT nextval(pg_get_serial_sequence('events', 'seq')), {_FIELDS}"
    # Each write's events together, at the place of its first id, then in id order. OFFSET 0 keeps
    # the sorted subquery a node of its own: nextval runs above it, row by row, in that order.
    f" FROM (SELECT * FROM queued ORDER BY min(id) OVER (PARTITION BY writer), id OFFSET 0) AS ordered"
    " RETURNING seq)"
    f" SELECT max(seq), pg_notify('{CHANNEL}', max(seq)::text) FROM numbered HAVING count(*) > 0"
)
"""Move every queued event into ``events``, numbered write by write in the order of their first
``id``; notify and return the highest ``seq`` (no row when the queue was empty: then nothing was
written, and the commit is not flushed)."""


def _row(event: ChangeEvent) -> dict[str, Any]:
    return {
        "entity_type": event.entity_type,
        "entity_urn": event.entity_urn,
        "category": event.category.value,
        "operation": event.operation.value,
        "modifier": event.modifier,
        "parameters": event.parameters or None,
        "actor": event.actor,
        "time": event.time,
    }


def _recorded(row: Row[Any]) -> RecordedEvent:
    event = ChangeEvent(
        row.entity_type,
        row.entity_urn,
        Category(row.category),
        Operation(row.operation),
        row.actor,
        row.time,
        row.modifier,
        row.parameters or {},
    )
    return RecordedEvent(row.seq, event)


class SqlEventLog:
    """The ``events`` table: appended in the writing transaction, read in ``seq`` order."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._pending: list[dict[str, Any]] = []
        self.written_through: int | None = None
        """The highest ``seq`` this transaction wrote, once ``flush`` ran (SQLite only)."""
        self.queued = False
        """Whether ``flush`` queued events to be numbered after the commit (PostgreSQL)."""

    def append(self, batch: Iterable[ChangeEvent]) -> None:
        """Append events to be committed with the current transaction (written by ``flush``)."""
        self._pending.extend(_row(event) for event in batch)

    def flush(self) -> None:
        """Write the appended events; the caller commits right after.

        On PostgreSQL they are queued, unnumbered, and the caller runs
        ``number_queued`` once the transaction committed (ADR 0050); on SQLite
        they are numbered here, the single writer's order being commit order.
        """
        if not self._pending:
            return
        if self._connection.dialect.name == "postgresql":
            in_turn(self._connection, [(_QUEUE, self._pending)])
            self.queued = True
        else:
            self.written_through = max(self._connection.execute(_INSERT, self._pending).scalars())
        self._pending = []

    def state(self) -> FeedState:
        """Return the feed's stream id, pruning mark and head."""
        stream, pruned_through = self._connection.execute(
            select(event_feed.c.stream, event_feed.c.pruned_through).where(event_feed.c.id == 1)
        ).one()
        newest = self._connection.execute(select(func.max(events.c.seq))).scalar()
        return FeedState(stream, pruned_through, max(newest or 0, pruned_through))

    def after(self, seq: int, limit: int) -> list[RecordedEvent]:
        """Return the first ``limit`` events whose ``seq`` is larger than ``seq``, in ``seq`` order."""
        rows = self._connection.execute(
            select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
        )
        return [_recorded(row) for row in rows]

    def position_at(self, time: int) -> int:
        """Return the ``seq`` after which the events made at or after ``time`` follow."""
        first = self._connection.execute(select(func.min(events.c.seq)).where(events.c.time >= time)).scalar()
        return first - 1 if first is not None else self.state().head

    def search(self, query: EventQuery) -> list[RecordedEvent]:
        """Return the events that match ``query``, newest first unless it asks for oldest first."""
        order = events.c.seq if query.oldest_first else events.c.seq.desc()
        statement = select(events).where(and_(True, *_conditions(query))).order_by(order).limit(query.limit)
        return [_recorded(row) for row in self._connection.execute(statement)]

    def prune(self, before: int, batch: int) -> int:
        """Delete at most ``batch`` of the oldest events made before ``before``; return how many.

        The feed's row is locked first, so two pruners take turns, and the mark
        moves in the same transaction as the delete: a reader sees both or neither.
        """
        marked = self._connection.execute(
            select(event_feed.c.pruned_through).where(event_feed.c.id == 1).with_for_update()
        ).scalar_one()
        oldest = select(events.c.seq).where(events.c.time < before).order_by(events.c.seq).limit(batch)
        through = self._connection.execute(select(func.max(oldest.subquery().c.seq))).scalar()
        if through is None:
            return 0
        deleted = self._connection.execute(delete(events).where(events.c.seq <= through)).rowcount
        if through > marked:
            self._connection.execute(
                update(event_feed).where(event_feed.c.id == 1).values(pruned_through=through)
            )
        return deleted


def number_queued(connection: Connection) -> int | None:
    """Give every queued event its ``seq`` in one short transaction; return the highest given, if any.

    PostgreSQL only, on a connection with no transaction open. The lock, the move
    and the ``COMMIT`` go out in one round trip (psycopg's pipeline), so the lock
    is held for the server's work and the commit's flush, never for a round trip
    or the Python between statements; the move is a statement of its own after
    the lock, so its snapshot sees every write committed before the lock was granted.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    lock, move = driver.cursor(), driver.cursor()
    try:
        with driver.pipeline():
            lock.execute(_LOCK_SQL)
            move.execute(_NUMBER_SQL)
            driver.commit()
        row = move.fetchone()  # the pipeline has synced: every result is in
    except Exception as error:  # noqa: BLE001 - the driver's error, through SQLAlchemy's error path
        connection._handle_dbapi_exception(error, _NUMBER_SQL, None, None, None)
    finally:
        lock.close()
        move.close()
    return row[0] if row is not None else None


def _conditions(query: EventQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for column, value in (
        (events.c.entity_urn, query.entity_urn),
        (events.c.actor, query.actor),
        (events.c.category, query.category),
    ):
        if value is not None:
            found.append(column == value)
    if query.since is not None:
        found.append(events.c.time >= query.since)
    if query.until is not None:
        found.append(events.c.time < query.until)
    if query.after is not None:
        found.append(events.c.seq > query.after)
    if query.before is not None:
        found.append(events.c.seq < query.before)
    return found
