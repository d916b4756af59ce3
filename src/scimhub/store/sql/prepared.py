"""Statements run on the driver's own cursor: compiled once per shape and dialect (ADR 0047).

SQLAlchemy builds every statement scimhub runs; what it costs to *execute* one through
``Connection.execute`` (an execution context, events, a ``CursorResult`` and its metadata, about
40 µs a statement against 4 µs for the driver's own cursor, ``bench/statements.py``) is more than
the statement itself costs SQLite. ``rows`` keeps SQLAlchemy's compiler and its statement cache
key (a statement's shape without its literal values, which SQLAlchemy extracts as bound
parameters), and does the rest itself: the SQL and its result conversions are kept per shape
and dialect, and each call binds the values and runs the SQL on the same connection, inside the
same transaction: on sqlite3's cursor, or on PostgreSQL through libpq, every statement of a round
trip in one pipeline, each prepared once per connection (``libpq.py``, ADR 0074). A driver error
takes SQLAlchemy's own error path, so
``handle_error`` (ADR 0029: 503 on an outage, invalidation of a lost connection) and
``IntegrityError`` behave as they did.

Statements with an expanding ``IN`` (whose SQL changes with the number of values) go through
``Connection.execute`` as before.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Executable, RootTransaction, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

if TYPE_CHECKING:
    from scimhub.store.sql.libpq import Statement

PLANS_KEPT = 1_000
"""Statement shapes kept per process: every prebuilt statement, and filters of as many shapes."""


@dataclass(frozen=True)
class _Plan:
    """One statement shape, compiled for one dialect."""

    compiled: SQLCompiler
    sql: str
    binding: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    """The bound parameters in the order the SQL takes them (``?``, ``$1``), each with its value's
    conversion (JSON to text, a Jsonb wrapper), if any."""
    row: Callable[..., tuple[Any, ...]] | None
    """Makes a row whose values read by name as well as position; None when the statement returns none."""
    convert: tuple[Callable[[Any], Any] | None, ...]
    """Per result column, the conversion of what the driver returns (text to JSON, 0/1 to bool);
    empty when no column needs one."""
    libpq: Statement | None = None
    """On PostgreSQL, the statement as ``libpq.run`` sends it (ADR 0074)."""


_plans: OrderedDict[tuple[Any, ...], _Plan] = OrderedDict()
_lock = threading.Lock()
_by_statement: weakref.WeakKeyDictionary[ClauseElement, dict[str, _Plan]] = weakref.WeakKeyDictionary()
"""Each live statement's plans by dialect. Most statements are built once and kept (module constants,
``searches``' statements per filter shape): found by the object, their cache key (a deep tuple,
4–10 µs to hash) is never hashed per request."""


Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
"""One statement's values: a mapping, or a list of mappings to run it once for each (no rows returned)."""


Steps = Sequence[tuple[Executable, Params]]
Translate = Callable[[DBAPIError], BaseException | None]
"""Says what an error of the statements means to the caller (a constraint's violation: ``Uniqueness``),
or None to raise it as is."""
_BEGIN: Steps = [(text("BEGIN"), None)]
COMMIT = text("COMMIT")
"""The ``COMMIT`` a write sends as the last of its round trip's statements (``SqlEventLog.flush``)."""
_BEGINNING = "scimhub_beginning"
"""``Connection.info``'s key for the statements that begin the transaction being begun (``begin_with``)."""
_AHEAD = "scimhub_ahead"
"""``Connection.info``'s key for the writes waiting to go out with the connection's next statement."""
_AT_COMMIT = "scimhub_at_commit"
"""``Connection.info``'s key for the statements waiting to go out last before the transaction's commit."""
_BEFORE_COMMIT = "scimhub_before_commit"
"""``Connection.info``'s key for what must hold before the transaction's ``COMMIT`` (``before_commit``)."""


@dataclass
class _Ahead:
    """Statements to be sent in the round trip of the statements after them.

    Writes whose results no one reads (``ahead``), or whose rows go to ``check`` once the round trip
    succeeded (``check_ahead``; ``at_commit``, a credential's check at a write's end, ADR 0084).
    """

    steps: list[tuple[Executable, Params]]
    translate: Translate
    check: Callable[[list[Any]], None] | None = None


def rows(connection: Connection, statement: Executable, params: Params = None) -> list[Any]:
    """Run ``statement`` with ``params`` on ``connection``; return its rows (read by name or position)."""
    return in_turn(connection, [(statement, params)])[0]


def ahead(
    connection: Connection,
    steps: Steps,
    translate: Translate,
    check: Callable[[list[Any]], None] | None = None,
) -> None:
    """Run ``steps`` before anything else runs on ``connection`` (ADR 0063).

    On PostgreSQL they wait and go out in the round trip of the transaction's next statements (a
    write's own: the events, the ``COMMIT``), which run only if they succeed; a commit or any other
    statement sends them first (``keep_writes_ahead``). An error of that round trip is raised as
    ``translate`` reads it, wherever it is met; ``check`` has the first step's rows when it succeeded.
    Elsewhere they run now, and only a constraint's violation is translated.
    """
    if connection.dialect.name != "postgresql":
        try:
            fetched = in_turn(connection, steps)
        except IntegrityError as error:
            raise translate(error) or error from None
        if check is not None:
            check(fetched[0])
        return
    connection.info.setdefault(_AHEAD, []).append(_Ahead(list(steps), translate, check))


def at_commit(
    connection: Connection, steps: Steps, translate: Translate, check: Callable[[list[Any]], None]
) -> None:
    """Send ``steps`` on PostgreSQL's ``connection`` last before its transaction's ``COMMIT``, with it.

    After every other statement of the transaction, the commit-order lock's included (ADR 0011): what
    they read is as the database stands when the transaction commits. An error of that round trip is
    raised as ``translate`` reads it; ``check`` has the first step's rows when it succeeded (ADR 0084).
    """
    assert connection.dialect.name == "postgresql"
    connection.info.setdefault(_AT_COMMIT, []).append(_Ahead(list(steps), translate, check))


def before_commit(connection: Connection, steps: Steps, confirm: Callable[[], None]) -> None:
    """Have ``steps`` go out last of PostgreSQL's ``connection``'s transaction, then ``confirm`` run.

    Then the ``COMMIT`` goes out, in a round trip of its own; when ``confirm`` raises, it does not,
    and the error is raised for the caller to roll the transaction back. What ``confirm`` reads on
    another connection sees the database as it stands with every lock of the transaction held, the
    ones ``steps`` take included, and without the transaction's own rows (ADR 0086).
    """
    assert connection.dialect.name == "postgresql"
    connection.info.setdefault(_BEFORE_COMMIT, []).append((list(steps), confirm))


def check_ahead(
    connection: Connection, statement: Executable, params: Params, check: Callable[[list[Any]], None]
) -> Callable[[], None]:
    """Send ``statement`` before anything else on PostgreSQL's ``connection``; hand its rows to ``check``.

    It goes out in the round trip of the connection's next statements, first, and ``check`` has its
    rows before theirs are returned: when it raises, they are not (ADR 0083). Return what withdraws
    it while it has not gone out yet. Only PostgreSQL has round trips to save.
    """
    assert connection.dialect.name == "postgresql"
    waiting = _Ahead([(statement, params)], lambda _: None, check)
    connection.info.setdefault(_AHEAD, []).append(waiting)

    def withdraw() -> None:
        queued = connection.info.get(_AHEAD)
        if queued and waiting in queued:
            queued.remove(waiting)

    return withdraw


def send_ahead(connection: Connection, *, committing: bool = False) -> None:
    """Send the writes waiting on ``connection`` (``ahead``) now, if any.

    ``committing``: the transaction ends, and what waits for its ``COMMIT`` (``at_commit``) goes with it.
    """
    info = connection.info
    if info.get(_AHEAD) or (committing and (info.get(_AT_COMMIT) or info.get(_BEFORE_COMMIT))):
        in_turn(connection, [(COMMIT, None)] if committing else [])


def keep_writes_ahead(engine: Engine) -> None:
    """Have ``engine``'s connections send their waiting writes (``ahead``) before anything else.

    ``in_turn`` sends them with its own statements, and a transaction's events with its commit
    (``SqlEventLog.flush``); these listeners cover the rest: a statement SQLAlchemy executes, and a
    commit, send them before they run; a rollback forgets them.
    """
    if not event.contains(engine, "commit", _send_before_commit):
        event.listen(engine, "before_cursor_execute", _send_before_statement)
        event.listen(engine, "commit", _send_before_commit)
        event.listen(engine, "rollback", _drop_ahead)


def begin_ahead(engine: Engine) -> Engine:
    """Return ``engine`` with its transactions begun by a ``BEGIN`` that waits for their first statement.

    psycopg begins a transaction with a ``BEGIN`` of its own, a round trip before the first
    statement, in pipeline mode too. On the returned engine the driver is in autocommit and each
    transaction's ``BEGIN`` goes ``ahead`` of its first statements, in their round trip; the
    ``COMMIT`` or ``ROLLBACK`` that ends it is sent as before (ADR 0063). ``begin_with`` begins
    one otherwise (a read's snapshot), in the same round trip.
    """
    beginning = engine.execution_options(isolation_level="AUTOCOMMIT")
    event.listen(beginning, "begin", _begin_ahead)
    return beginning


def begin_with(connection: Connection, beginning: Steps) -> RootTransaction:
    """Begin a transaction on a ``begin_ahead`` connection by ``beginning``, sent ahead as its ``BEGIN`` is.

    One connection then serves reads and writes (ADR 0067): a read begins with
    ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY``, a write with ``BEGIN``.
    """
    connection.info[_BEGINNING] = beginning
    try:
        return connection.begin()
    finally:
        connection.info.pop(_BEGINNING, None)


def _begin_ahead(connection: Connection) -> None:
    ahead(connection, connection.info.get(_BEGINNING, _BEGIN), lambda _: None)


def _send_before_statement(connection: Connection, *_: object) -> None:
    send_ahead(connection)


def _send_before_commit(connection: Connection) -> None:
    try:
        send_ahead(connection, committing=True)
    except BaseException:
        # SQLAlchemy ends its transaction, without a rollback, when a listener of its commit raises.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.rollback()
        raise


def _drop_ahead(connection: Connection) -> None:
    if not connection.invalidated:  # an invalidated one has its info cleared as it reconnects
        connection.info.pop(_AHEAD, None)
        connection.info.pop(_AT_COMMIT, None)
        connection.info.pop(_BEFORE_COMMIT, None)


def in_turn(connection: Connection, steps: Steps) -> list[list[Any]]:
    """Run each statement with its values, in order; return each one's rows.

    On PostgreSQL they go out together in one libpq pipeline, one round trip for all (the
    server still runs them one after the other, and the first error stops the rest), behind the
    writes waiting to go ``ahead`` of them; when the last is the ``COMMIT``, the statements waiting
    for it (``at_commit``) go right before it, and, in a transaction begun in an earlier round trip,
    first as well: that one may have waited there for a row's lock, and the writes sent now could
    put back what a change made meanwhile took away (ADR 0084). When something must hold before the
    ``COMMIT`` (``before_commit``), everything else goes out first, then it is confirmed, then the
    ``COMMIT`` goes alone.
    """
    postgresql = connection.dialect.name == "postgresql"
    committing = bool(steps) and steps[-1][0] is COMMIT
    if postgresql and committing and _BEFORE_COMMIT in connection.info:
        return _confirmed_then_committed(connection, steps)
    waiting: list[_Ahead] = (connection.info.pop(_AHEAD, None) or []) if postgresql else []
    last: list[_Ahead] = (connection.info.pop(_AT_COMMIT, None) or []) if postgresql and committing else []
    if not waiting and not last:
        return _in_turn(connection, steps)
    sent = [step for ahead in waiting for step in ahead.steps]
    own = list(steps[:-1]) if last else list(steps)
    closing = [step for ahead in last for step in ahead.steps]
    begun_before = bool(last) and not (sent and sent[0][0] is _BEGIN[0][0])
    opening = closing if begun_before else []
    try:
        fetched = _in_turn(connection, [*opening, *sent, *own, *closing, *steps[len(own) :]])
    except DBAPIError as error:
        for ahead in [*waiting, *last]:
            translated = ahead.translate(error)
            if translated is not None:
                raise translated from None
        raise
    at = len(opening)
    if opening:
        _checked(last, fetched, 0)
    _checked(waiting, fetched, at)
    at += len(sent)
    _checked(last, fetched, at + len(own))
    return [*fetched[at : at + len(own)], *fetched[at + len(own) + len(closing) :]]


def _confirmed_then_committed(connection: Connection, steps: Steps) -> list[list[Any]]:
    """Run ``steps`` but their last, the ``COMMIT``, then ``before_commit``'s; confirm; then commit alone."""
    confirming: list[tuple[Steps, Callable[[], None]]] = connection.info.pop(_BEFORE_COMMIT)
    own = len(steps) - 1
    fetched = in_turn(connection, [*steps[:own], *(step for last, _ in confirming for step in last)])
    for _, confirm in confirming:
        confirm()
    return [*fetched[:own], *in_turn(connection, steps[own:])]


def _checked(queued: list[_Ahead], fetched: list[list[Any]], at: int) -> None:
    """Hand each queued step's ``check`` its rows, the ``queued`` steps' first results being at ``at``."""
    for ahead in queued:
        if ahead.check is not None:
            ahead.check(fetched[at])
        at += len(ahead.steps)


def _in_turn(connection: Connection, steps: Steps) -> list[list[Any]]:
    planned = [_prepare(connection.dialect, statement, params) for statement, params in steps]
    runs = [run for run in planned if run is not None]
    if len(runs) < len(planned):  # an expanding IN: its SQL depends on its values; SQLAlchemy renders it
        return [_through_sqlalchemy(connection, statement, params) for statement, params in steps]
    if _whole_transaction(steps):
        # Its BEGIN never went out (nothing of it did), and its COMMIT ends this round trip: PostgreSQL
        # runs a pipeline's statements up to its Sync as one transaction and commits it there, or
        # rolls it back whole at the first error (ADR 0075). The two would be statements for nothing.
        return [[], *_run(connection, runs[1:-1]), []]
    return _run(connection, runs)


def _whole_transaction(steps: Steps) -> bool:
    """Whether ``steps`` are a write transaction from its ``BEGIN`` to its ``COMMIT``, in one round trip."""
    return len(steps) > 2 and steps[0][0] is _BEGIN[0][0] and steps[-1][0] is COMMIT


def _run(connection: Connection, runs: list[tuple[_Plan, Any, bool]]) -> list[list[Any]]:
    driver = connection.connection.driver_connection
    assert driver is not None
    postgresql = connection.dialect.name == "postgresql"
    try:
        if postgresql and driver.autocommit:  # in one round trip, through libpq (ADR 0074)
            from scimhub.store.sql import libpq  # noqa: PLC0415 - psycopg is an extra

            sent = []
            for plan, bound, many in runs:
                assert plan.libpq is not None  # every PostgreSQL plan has one
                sent.append((plan.libpq, bound if many else [bound]))
            return libpq.run(driver, connection.info, sent)
        # SQLite; or a PostgreSQL connection that begins its own transactions (a tool's; a request's
        # are all in autocommit), whose cursor begins them as psycopg's does.
        fetched: list[list[Any]] = []
        cursor = driver_cursor(driver)
        try:
            for plan, bound, many in runs:
                if many:
                    cursor.executemany(plan.sql, bound)
                else:
                    cursor.execute(plan.sql, bound)
                fetched.append(_fetched(plan, cursor))
        finally:
            cursor.close()
        return fetched
    except Exception as error:  # noqa: BLE001 - the driver's error, through SQLAlchemy's error path
        sql = "; ".join(plan.sql for plan, _, _ in runs)
        connection._handle_dbapi_exception(error, sql, [bound for _, bound, _ in runs], None, None)
        raise  # not reached: SQLAlchemy raises its own


def driver_cursor(driver: Any) -> Any:
    """Return a DB-API cursor of ``driver`` that takes a plan's SQL as compiled for its dialect.

    On PostgreSQL that is psycopg's raw cursor, which takes libpq's own ``$1`` placeholders.
    """
    if not hasattr(driver, "pgconn"):  # sqlite3's; or a driver's stand-in (bench/seed.py records)
        return driver.cursor()
    from psycopg import RawCursor  # noqa: PLC0415 - psycopg is an extra

    return RawCursor(driver)


def _prepare(dialect: Dialect, statement: Executable, params: Params) -> tuple[_Plan, Any, bool] | None:
    """Return the plan of ``statement`` for ``dialect`` and its values in the plan's order (None: no plan)."""
    assert isinstance(statement, ClauseElement)
    key = statement._generate_cache_key()  # memoized by the statement; its values are extracted anew
    plan = _plan_of(statement, dialect, key)
    if plan is None:
        return None
    # The values a statement's own literals take: none to map when the plan was compiled from this
    # very statement (its memoized key), whose literals the compiled statement holds already.
    extracted = key.bindparams if key is not None and key is not plan.compiled.cache_key else None
    construct = plan.compiled.construct_params
    if isinstance(params, Sequence):  # one run per mapping: executemany
        return plan, [_bound(plan, construct(p, extracted_parameters=extracted)) for p in params], True
    return plan, _bound(plan, construct(params or None, extracted_parameters=extracted)), False


def _through_sqlalchemy(connection: Connection, statement: Executable, params: Params) -> list[Any]:
    values = [dict(p) for p in params] if isinstance(params, Sequence) else dict(params or {})
    result = connection.execute(statement, values)
    return list(result) if result.returns_rows else []


def _fetched(plan: _Plan, cursor: Any) -> list[Any]:
    make, convert = plan.row, plan.convert
    if make is None:
        return []
    fetched = cursor.fetchall()
    if convert:
        return [make(*map(_converted, convert, row)) for row in fetched]
    return [make(*row) for row in fetched]


def _converted(convert: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if convert is None or value is None else convert(value)


def _bound(plan: _Plan, values: Mapping[str, Any]) -> list[Any]:
    # As SQLAlchemy does, None goes through the conversion too: JSON's makes it the JSON null.
    return [values[name] if bind is None else bind(values[name]) for name, bind in plan.binding]


def _plan_of(statement: ClauseElement, dialect: Dialect, key: Any) -> _Plan | None:
    """Return the plan of ``statement``: known by the statement, else by its cache key, else made."""
    known = _by_statement.get(statement)
    plan = known.get(dialect.name) if known else None
    if plan is not None:
        return plan
    plan = _plans.get((dialect.name, key.key)) if key is not None else None
    if plan is None:
        plan = _plan(statement, dialect, key)
    if plan is not None:
        with _lock:
            _by_statement.setdefault(statement, {})[dialect.name] = plan
    return plan


def _plan(statement: ClauseElement, dialect: Dialect, key: Any) -> _Plan | None:
    postgresql = dialect.name == "postgresql"
    compiled = statement.compile(dialect=_numbered(dialect) if postgresql else dialect, cache_key=key)
    assert isinstance(compiled, SQLCompiler)
    if any(b.expanding for b in compiled.binds.values()) or compiled.escaped_bind_names:
        return None
    if not compiled.positional:  # the values by name (a pyformat driver's): SQLAlchemy binds them
        return None
    rendered = {name: parameter for parameter, name in compiled.bind_names.items()}
    names = tuple(compiled.positiontup or ())
    binding = tuple((n, _impl(rendered[n].type, dialect).bind_processor(dialect)) for n in names)
    columns = getattr(statement, "exported_columns", None)  # a SELECT's, or what a write RETURNs
    make: Callable[..., tuple[Any, ...]] | None = None
    convert: tuple[Callable[[Any], Any] | None, ...] = ()
    if columns:
        make = namedtuple("Row", list(columns.keys()), rename=True)  # type: ignore[misc,no-redef]
        processors = tuple(_impl(c.type, dialect).result_processor(dialect, None) for c in columns)
        convert = processors if any(processors) else ()
    sent = None
    if postgresql:
        from scimhub.store.sql import libpq  # noqa: PLC0415 - psycopg is an extra

        sent = libpq.Statement(compiled.string.encode(), [libpq.AUTO] * len(names), _row_maker(make, convert))
    plan = _Plan(compiled, compiled.string, binding, make, convert, sent)
    if key is not None:
        with _lock:
            _plans[(dialect.name, key.key)] = plan
            while len(_plans) > PLANS_KEPT:
                _plans.popitem(last=False)
    return plan


_numbered_dialects: weakref.WeakKeyDictionary[Dialect, Dialect] = weakref.WeakKeyDictionary()


def _numbered(dialect: Dialect) -> Dialect:
    """Return ``dialect`` rendering libpq's own ``$1`` placeholders, each value's once however often used."""
    numbered = _numbered_dialects.get(dialect)
    if numbered is None:
        numbered = copy.copy(dialect)  # as the engine initialized it: its server's version, its options
        numbered.paramstyle, numbered.positional = "numeric_dollar", True
        # Its own preparer: pyformat's doubles every literal ``%`` of the SQL, which ``$1`` leaves as is.
        numbered.identifier_preparer = numbered.preparer(numbered)
        _numbered_dialects[dialect] = numbered
    return numbered


def _row_maker(
    make: Callable[..., tuple[Any, ...]] | None, convert: tuple[Callable[[Any], Any] | None, ...]
) -> Callable[[Sequence[Any]], tuple[Any, ...]] | None:
    """Return what makes a row of a statement's values as loaded: ``make``, after ``convert``."""
    if make is None or not convert:
        return None if make is None else make._make  # type: ignore[attr-defined]
    return lambda values: make(*map(_converted, convert, values))


def _impl(type_: Any, dialect: Dialect) -> Any:
    return type_.dialect_impl(dialect)
