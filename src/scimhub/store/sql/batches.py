"""Statements over many ids: built once, run a bounded chunk of ids at a time.

Building a SQLAlchemy statement costs about four times executing a prebuilt one
(ADR 0015, ``bench/statements.py``): statements on the request path are module
constants, built once per process and compiled once per dialect, and run on the
driver's cursor (``prepared.rows``, ADR 0047). A statement over a list of ids is
built twice: with ``= :id`` for the one id most calls ask about (the authenticated
user's grants, one user's groups), and for many ids with the ids bound as one JSON
array, which the statement expands (``IN (SELECT value FROM json_each(?))``): its
SQL is the same whatever the number of ids, where an expanding ``IN`` is rendered
anew for each execution, through SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, Row, bindparam, select

from scimhub.store.sql.functions import JSON_ARRAY, json_text_elements
from scimhub.store.sql.prepared import rows

T = TypeVar("T")

CHUNK = 500
"""Values per ``IN (…)`` list: well under SQLite's 32,766 bound parameters; per JSON array, a
statement that stays short."""

Match = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Given the id column, the condition that it is one of the ids asked for."""


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """Yield ``values`` in slices of at most ``CHUNK``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class ForIds:
    """A prebuilt statement that reads rows for a list of ids."""

    def __init__(self, build: Callable[[Match], Executable]) -> None:
        """Build the statement ``build(match)`` for one id and for many.

        ``build`` applies ``match`` to each id column the statement filters on.
        """
        self._one = build(lambda column: column == bindparam("id"))
        self._many = build(among_ids)

    def rows(self, connection: Connection, ids: Sequence[str]) -> Iterator[Row[*tuple[Any, ...]]]:
        """Yield the statement's rows for ``ids``, one execution per ``CHUNK`` of them."""
        if len(ids) == 1:
            yield from rows(connection, self._one, {"id": ids[0]})
            return
        for chunk in chunks(ids):
            yield from rows(connection, self._many, {"ids": list(chunk)})


def among_ids(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Return where ``column`` is one of the ids bound as the JSON array ``:ids`` (one value, any length)."""
    return column.in_(select(_LISTED.c.value))


_LISTED = json_text_elements(bindparam("ids", type_=JSON_ARRAY)).table_valued("value").alias("listed")
"""The ids bound as one JSON array, one row each."""
