"""Statements over many ids: built once, run a bounded chunk of ids at a time.

Building a SQLAlchemy statement costs about four times executing a prebuilt one
(ADR 0015, ``bench/statements.py``): statements on the request path are module
constants, built once per process and compiled once per dialect. A statement
over a list of ids is built twice: with an expanding ``IN`` for many ids, and
with ``= :id`` for the one id most calls ask about (the authenticated user's
grants, one user's groups), because SQLAlchemy re-renders an expanding ``IN``
on every execution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, Row, bindparam

from scimhub.store.sql.prepared import rows

T = TypeVar("T")

CHUNK = 500
"""Values per ``IN (…)`` list: well under SQLite's 32,766 bound parameters."""

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
        self._many = build(lambda column: column.in_(bindparam("ids", expanding=True)))

    def rows(self, connection: Connection, ids: Sequence[str]) -> Iterator[Row[*tuple[Any, ...]]]:
        """Yield the statement's rows for ``ids``, one execution per ``CHUNK`` of them."""
        if len(ids) == 1:
            yield from rows(connection, self._one, {"id": ids[0]})
            return
        for chunk in chunks(ids):
            yield from connection.execute(self._many, {"ids": list(chunk)})
