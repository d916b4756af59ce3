"""The change outbox on SQL: events buffered during a transaction, written right before it commits.

ADR 0011: on PostgreSQL the events are inserted under a transaction-scoped
advisory lock, taken as the very last step before ``COMMIT`` and released by it.
No two transactions are ever between "took a ``seq``" and "committed" at once,
so ``seq`` order is commit order and a reader that follows ``seq`` can never
skip an event that commits late with a smaller number. The same transaction
sends ``NOTIFY`` with its highest ``seq``; PostgreSQL delivers it at commit, and
drops it on rollback. SQLite needs no lock: its writers are serialized whole by
``BEGIN IMMEDIATE``.

On SQLite a lone event goes in through a prepared ``INSERT`` on the driver's
cursor (ADR 0047); several (a group's members changed) as one JSON array bound to
one ``INSERT … SELECT`` that reads it in order (``_APPEND_MANY``, ADR 0078), on
either engine. On PostgreSQL the lock, that INSERT, the NOTIFY and the
``COMMIT`` go out together in one libpq pipeline (``prepared.in_turn``, ADR 0058,
ADR 0074): the server
runs them one after the other, and the lock is released by the commit without
waiting for a round trip to the client, nor for the client's own turn on a CPU.
A lone event (a resource or an attribute written) takes the lock, goes in and
notifies in one statement (ADR 0068).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Executable,
    Row,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from scimhub.domain.events import Category, ChangeEvent, Operation, RecordedEvent
from scimhub.store.records import EventQuery, FeedState
from scimhub.store.sql.prepared import COMMIT, in_turn, send_ahead
from scimhub.store.sql.tables import event_feed, events

CHANNEL = "scimhub_events"
"""The PostgreSQL ``LISTEN``/``NOTIFY`` channel; the payload is the highest ``seq`` committed."""
COMMIT_ORDER_LOCK = 0x5C1A_E7E4
"""Key of the advisory lock that makes ``seq`` order commit order (ADR 0011)."""
_LAST_ROWID = select(func.last_insert_rowid())
COMMIT_ORDER = select(func.pg_advisory_xact_lock(COMMIT_ORDER_LOCK))
"""PostgreSQL: the statement that takes the commit-order lock until the transaction ends (taken, a no-op)."""
_APPENDED = [c for c in events.c if c is not events.c.seq]
_APPEND = insert(events).values({c.name: bindparam(c.name) for c in _APPENDED})


def _appending_many(elements: Any, order: str, field: Callable[[Any, int, Column[Any]], Any]) -> Executable:
    """Return ``INSERT … SELECT`` of the events that the JSON array ``:rows`` holds, in its order.

    Each element is one event's values, in ``_APPENDED``'s order; ``field`` reads the i-th as the
    column's type. As with membership rows (``members._adding``, ADR 0062), the whole batch is one
    bound value: one statement for any number of events, with nothing built or bound per event.
    SQLite's JSON functions would cut a text at a NUL; none reaches the store (ADR 0021).
    ``seq`` follows the array's order (``order``: the column that numbers its elements).
    """
    values = [field(elements.c.value, i, column) for i, column in enumerate(_APPENDED)]
    chosen = select(*values).select_from(elements).order_by(elements.c[order])
    return insert(events).from_select([c.name for c in _APPENDED], chosen).returning(events.c.seq)


def _postgresql_field(value: Any, i: int, column: Column[Any]) -> Any:
    if isinstance(column.type, (JSON, JSONB)):
        return value.op("->")(literal_column(str(i)))
    text = value.op("->>")(literal_column(str(i)))
    return cast(text, BigInteger) if isinstance(column.type, BigInteger) else text


_APPEND_MANY = {
    "sqlite": _appending_many(
        func.json_each(bindparam("rows", type_=JSON)).table_valued("key", "value").alias("e"),
        "key",
        lambda value, i, _: func.json_extract(value, literal_column(f"'$[{i}]'")),
    ),
    "postgresql": _appending_many(
        func.jsonb_array_elements(bindparam("rows", type_=JSONB))
        .table_valued("value", with_ordinality="n")
        .render_derived(name="e"),
        "n",
        _postgresql_field,
    ),
}
"""Many events in one statement (``_appending_many``), by dialect."""
_APPENDED_NAMES = [c.name for c in _APPENDED]
_LAST = func.currval(func.pg_get_serial_sequence("events", "seq"))
"""The last ``seq`` this session took: under the lock, the highest of the transaction's events."""
_NOTIFY = select(func.pg_notify(CHANNEL, cast(_LAST, Text)), _LAST.label("seq"))
_LOCKED = COMMIT_ORDER.cte("locked").prefix_with("MATERIALIZED", dialect="postgresql")
_APPENDED_ONE = (
    insert(events)
    .from_select(
        [c.name for c in _APPENDED],
        select(*(bindparam(c.name, type_=c.type) for c in _APPENDED)).select_from(_LOCKED),
    )
    .returning(events.c.seq)
    .cte("appended")
)
_APPEND_ONE = select(func.pg_notify(CHANNEL, cast(_APPENDED_ONE.c.seq, Text)), _APPENDED_ONE.c.seq)
"""PostgreSQL: ``COMMIT_ORDER``, ``_APPEND`` and ``_NOTIFY`` of one event in one statement. Its row is
made with the lock's one row, so it draws its ``seq`` under the lock."""


def hold_commit_order(connection: Connection) -> None:
    """On PostgreSQL, take the commit-order lock now, until the transaction ends (ADR 0011).

    For a change to a credential that appends no event (a token's revocation): it then cannot commit
    while a write checked apart from its own rows is between that check and its commit (ADR 0086).
    """
    if connection.dialect.name == "postgresql":
        in_turn(connection, [(COMMIT_ORDER, None)])


def _values(event: ChangeEvent) -> list[Any]:
    """Return the event's column values, in ``_APPENDED``'s order."""
    return [
        event.entity_type,
        event.entity_urn,
        event.category.value,
        event.operation.value,
        event.modifier,
        event.parameters or None,
        event.actor,
        event.time,
    ]


def _row(event: ChangeEvent) -> dict[str, Any]:
    return dict(zip(_APPENDED_NAMES, _values(event), strict=True))


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
        self._pending: list[ChangeEvent] = []
        self.written_through: int | None = None
        """The highest ``seq`` this transaction wrote, once ``flush`` ran."""

    def append(self, batch: Iterable[ChangeEvent]) -> None:
        """Append events to be committed with the current transaction (written by ``flush``)."""
        self._pending.extend(batch)

    def flush(self) -> None:
        """Write the appended events, as the transaction's last statements (ADR 0011).

        Buffering until here keeps the commit-order lock out of the use case's own
        work: it is held for one INSERT, one NOTIFY and the COMMIT. On PostgreSQL
        this commits, in the same round trip; on SQLite the caller commits right after.
        """
        if not self._pending:
            send_ahead(self._connection, committing=True)  # no events: its rows, and the commit with them
            return
        dialect = self._connection.dialect.name
        appended = (
            (_APPEND_MANY[dialect], {"rows": [_values(event) for event in self._pending]})
            if len(self._pending) > 1
            else None
        )
        if dialect == "postgresql":
            # In one round trip (one pipeline): wait until no other transaction is between
            # its INSERT and its COMMIT, insert, notify with the last number taken, commit. A
            # round trip under the lock would hold every other writer back (ADR 0058); the
            # caller's own COMMIT then finds the transaction ended and sends nothing. A transaction
            # sent whole in this round trip goes without BEGIN and COMMIT: the pipeline's end
            # commits it (ADR 0075).
            if appended is None:  # a resource or an attribute written: three statements in one
                [(notified,), _] = in_turn(
                    self._connection, [(_APPEND_ONE, _row(self._pending[0])), (COMMIT, None)]
                )
            else:
                _, _, (notified,), _ = in_turn(
                    self._connection, [(COMMIT_ORDER, None), appended, (_NOTIFY, None), (COMMIT, None)]
                )
            written = notified.seq
        elif appended is None:
            # The event of a user or group written: on the driver's cursor (ADR 0047), whose INSERT
            # costs a fifth of SQLAlchemy's execution of it; AUTOINCREMENT gave it the last rowid.
            [(written,)] = in_turn(
                self._connection, [(_APPEND, _row(self._pending[0])), (_LAST_ROWID, None)]
            )[1]
        else:
            # Many (members added): one statement on the driver's cursor, whatever their number.
            written = max(seq for (seq,) in in_turn(self._connection, [appended])[0])
        self.written_through = written
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
