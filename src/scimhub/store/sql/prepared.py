"""Statements run on the driver's own cursor: compiled once per shape and dialect (ADR 0047).

SQLAlchemy builds every statement scimhub runs; what it costs to *execute* one through
``Connection.execute`` (an execution context, events, a ``CursorResult`` and its metadata, about
40 µs a statement against 4 µs for the driver's own cursor, ``bench/statements.py``) is more than
the statement itself costs SQLite. ``rows`` keeps SQLAlchemy's compiler and its statement cache
key (a statement's shape without its literal values, which SQLAlchemy extracts as bound
parameters), and does the rest itself: the SQL and its result conversions are kept per shape
and dialect, and each call binds the values and runs the SQL on the cursor of the same
connection, inside the same transaction. A driver error takes SQLAlchemy's own error path, so
``handle_error`` (ADR 0029: 503 on an outage, invalidation of a lost connection) and
``IntegrityError`` behave as they did.

Statements with an expanding ``IN`` (whose SQL changes with the number of values) go through
``Connection.execute`` as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

PLANS_KEPT = 1_000
"""Statement shapes kept per process: every prebuilt statement, and filters of as many shapes."""


@dataclass(frozen=True)
class _Plan:
    """One statement shape, compiled for one dialect."""

    compiled: SQLCompiler
    sql: str
    names: tuple[str, ...]
    """The bound parameters, in the order the SQL takes them (positional drivers) or by name."""
    positional: bool
    bind: tuple[Callable[[Any], Any] | None, ...]
    """Per name, the bound value's conversion (JSON to text, a Jsonb wrapper), if any."""
    row: Callable[..., tuple[Any, ...]] | None
    """Makes a row whose values read by name as well as position; None when the statement returns none."""
    convert: tuple[Callable[[Any], Any] | None, ...]
    """Per result column, the conversion of what the driver returns (text to JSON, 0/1 to bool), if any."""


_plans: OrderedDict[tuple[Any, ...], _Plan] = OrderedDict()
_lock = threading.Lock()


def rows(connection: Connection, statement: Executable, params: Mapping[str, Any] | None = None) -> list[Any]:
    """Run ``statement`` with ``params`` on ``connection``; return its rows (read by name or position)."""
    assert isinstance(statement, ClauseElement)
    key = statement._generate_cache_key()
    dialect = connection.dialect
    plan = _plans.get((dialect.name, key.key)) if key is not None else None
    if plan is None:
        plan = _plan(statement, dialect, key)
        if plan is None:  # an expanding IN: its SQL depends on its values
            result = connection.execute(statement, dict(params or {}))
            return list(result) if result.returns_rows else []
    values = plan.compiled.construct_params(
        dict(params) if params else None, extracted_parameters=key.bindparams if key is not None else None
    )
    bound = _bound(plan, values)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(plan.sql, bound)
        fetched = cursor.fetchall() if plan.row is not None else []
    except Exception as error:  # noqa: BLE001 - the driver's error, through SQLAlchemy's error path
        connection._handle_dbapi_exception(error, plan.sql, bound, cursor, None)
    finally:
        cursor.close()
    make, convert = plan.row, plan.convert
    if make is None:
        return []
    if any(convert):
        return [make(*map(_converted, convert, row)) for row in fetched]
    return [make(*row) for row in fetched]


def _converted(convert: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if convert is None or value is None else convert(value)


def _bound(plan: _Plan, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
    converted = map(_converted, plan.bind, [values[n] for n in plan.names])
    return list(converted) if plan.positional else dict(zip(plan.names, converted, strict=True))


def _plan(statement: ClauseElement, dialect: Dialect, key: Any) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, cache_key=key)
    assert isinstance(compiled, SQLCompiler)
    if any(b.expanding for b in compiled.binds.values()) or compiled.escaped_bind_names:
        return None
    positional = bool(compiled.positional)
    rendered = {name: parameter for parameter, name in compiled.bind_names.items()}
    names = tuple(compiled.positiontup or ()) if positional else tuple(rendered)
    bind = tuple(_impl(rendered[n].type, dialect).bind_processor(dialect) for n in names)
    columns = getattr(statement, "selected_columns", None)
    make: Callable[..., tuple[Any, ...]] | None = None
    convert: tuple[Callable[[Any], Any] | None, ...] = ()
    if columns is not None:
        make = namedtuple("Row", list(columns.keys()), rename=True)  # type: ignore[misc,no-redef]
        convert = tuple(_impl(c.type, dialect).result_processor(dialect, None) for c in columns)
    plan = _Plan(compiled, compiled.string, names, positional, bind, make, convert)
    if key is not None:
        with _lock:
            _plans[(dialect.name, key.key)] = plan
            while len(_plans) > PLANS_KEPT:
                _plans.popitem(last=False)
    return plan


def _impl(type_: Any, dialect: Dialect) -> Any:
    return type_.dialect_impl(dialect)
