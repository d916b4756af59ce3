"""Statements over many ids: built once, run a bounded chunk of ids at a time.

Building a SQLAlchemy statement costs about three times executing it (ADR 0015):
statements on the request path are module constants whose ``IN`` list is the
expanding parameter ``IDS``, filled per execution, so they are built once per
process and compiled once per dialect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Row, bindparam

T = TypeVar("T")

CHUNK = 500
"""Values per ``IN (…)`` list: well under SQLite's 32,766 bound parameters."""

IDS = bindparam("ids", expanding=True)
"""The ``IN`` list of a prebuilt statement: ``column.in_(IDS)``."""


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """Yield ``values`` in slices of at most ``CHUNK``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def rows_for_ids(connection: Connection, statement: Executable, ids: Sequence[str]) -> Iterator[Row[Any]]:
    """Yield the rows of ``statement`` (which filters on ``IDS``) for every chunk of ``ids``."""
    for chunk in chunks(ids):
        yield from connection.execute(statement, {"ids": list(chunk)})
