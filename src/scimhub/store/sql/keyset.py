"""Keyset pages: the rows after (or before) a sort key, read from the index in order (ADR 0035).

A page by ``startIndex`` makes the database walk every row before it (OFFSET),
and a row inserted or deleted before the page shifts every later one. A page
after a sort key starts where the previous one ended, whatever happened before
it: the sort key ends in the id (``sorting.sort_terms``), so it is unique and
no row present throughout a walk is skipped or repeated. With the default order
(by id) or a unique column (``userName``, a group's ``displayName``) the
condition is one range on one index, as cheap at row 900,000 as at row 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from scimhub.query.pages import Query, Seek
from scimhub.query.schema import ResourceType
from scimhub.store.sql.sorting import sort_terms

Terms = list[tuple[ColumnElement[Any], bool]]


def seek_page(
    connection: Connection,
    table: Table,
    resource_type: ResourceType,
    where: ColumnElement[bool] | None,
    query: Query,
    values: Mapping[str, Any] | None = None,
    related: ColumnElement[Any] | None = None,
) -> tuple[int, Sequence[Row[Any]], list[tuple[Any, ...]], bool]:
    """Return the total (-1 when not counted), the page's rows, their sort keys and whether more lie beyond.

    ``values`` are those of the bind parameters in ``where`` that have none (a filter's,
    ``shapes.BoundFilter``). The rows come in the query's order also when read ``backward``.
    ``related`` is read with each row, after its columns (``searches.search_rows``).
    """
    seek = query.seek or Seek()
    terms = directed_terms(resource_type, query)
    keys = [key.label(f"sort_key_{n}") for n, (key, _) in enumerate(terms)]
    columns = (table,) if related is None else (table, related)
    statement: Select[Any] = select(*columns, *keys).order_by(*(k.desc() if d else k.asc() for k, d in terms))
    if where is not None:
        statement = statement.where(where)
    if seek.after is not None:
        statement = statement.where(after(terms, seek.after))
    rows = list(connection.execute(statement.limit(query.limit + 1), values).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    if seek.backward:
        rows.reverse()
    sort_keys = [tuple(row[len(row) - len(terms) :]) for row in rows]
    total = -1
    if seek.count:
        counted = select(func.count()).select_from(table)
        total = connection.execute(counted if where is None else counted.where(where), values).scalar_one()
    return total, rows, sort_keys, more


def directed_terms(resource_type: ResourceType, query: Query) -> Terms:
    """Return the sort terms a keyset page reads in: the query's, every direction turned when ``backward``."""
    terms = sort_terms(resource_type, query.sort_by, query.descending)
    if query.seek is not None and query.seek.backward:  # read the rows before the key from the nearest back
        terms = [(key, not down) for key, down in terms]
    return terms


def window_end(
    connection: Connection, table: Table, resource_type: ResourceType, query: Query, rows: int
) -> tuple[Any, ...] | None:
    """Return where the ``rows``-th row after the query's seek key stands in its order, but for the id.

    The sort key without its closing id, read from the order's index alone: SQLite counts its way
    to the 10,000th entry in 0.1 ms, where reading each entry's id from its row took 16 ms (ADR 0051).
    None when no more than ``rows`` rows follow: a window of ``rows`` is then the rest of the table.
    """
    terms = directed_terms(resource_type, query)
    head = terms[:-1] if len(terms) > 1 else terms
    statement = select(*(key for key, _ in head)).order_by(*(k.desc() if d else k.asc() for k, d in head))
    if query.seek is not None and query.seek.after is not None:
        statement = statement.where(after(terms, query.seek.after))
    last = connection.execute(statement.offset(rows - 1).limit(1)).first()
    return None if last is None else tuple(last)


def up_to(resource_type: ResourceType, query: Query, end: Sequence[Any]) -> ColumnElement[bool]:
    """Return where a row comes no further than ``end`` (a ``window_end``), ties with it included.

    With the seek's own condition, a page sought within it walks the index entries up to the
    window's end at most, testing its filter on each (ADR 0045): ``rows`` of them, and any that
    tie with the last on the attribute.
    """
    head = directed_terms(resource_type, query)[: len(end)]
    if len(head) == 1 and end[0] is not None:  # one range on the attribute's index ends the scan there
        (first, down), bound = head[0], literal(end[0], head[0][0].type)
        return first >= bound if down else first <= bound
    return not_(after(head, end))


def after(terms: Terms, key: Sequence[Any]) -> ColumnElement[bool]:
    """Return the condition that holds for the rows ordered after ``key`` by ``terms``.

    Lexicographic: the first term that differs decides. Equality is null-safe
    (``IS NOT DISTINCT FROM``), so that a key whose attribute is NULL (sorted
    last, behind an ``IS NULL`` term) still finds the rows after it by id. A
    leading range on the attribute, when the id follows it, lets the engines
    start the index scan at the key instead of filtering from the first row.

    :raises ValueError: When ``key`` does not have one value per term (a cursor of another query).
    """
    if len(key) != len(terms):
        raise ValueError(f"a sort key of {len(terms)} values was expected, not {len(key)}")
    branches = []
    for n, (expression, down) in enumerate(terms):
        equal = [terms[m][0].is_not_distinct_from(key[m]) for m in range(n)]
        branches.append(and_(*equal, _beyond(expression, down, key[n])))
    condition = or_(*branches)
    first, down = terms[0]
    if len(terms) == 2 and key[0] is not None:  # (attribute, id): the attribute's index can seek
        bound = literal(key[0], first.type)
        condition = and_(first <= bound if down else first >= bound, condition)
    return condition


def _beyond(expression: ColumnElement[Any], down: bool, value: Any) -> ColumnElement[bool]:
    if value is None:  # nothing sorts after NULL within this term; the next term decides
        return false()
    bound = literal(value, expression.type)  # a bound parameter, booleans included (``IS NULL`` terms)
    return expression < bound if down else expression > bound
