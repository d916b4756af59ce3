"""Filters planned once per shape: one WHERE clause for every filter that differs from another only in values.

Entra's most frequent request is ``userName eq "<someone>"``: always the same filter but for the
value. Building its SQLAlchemy clause anew on each request, then having SQLAlchemy walk it again
for its cache key, cost more than running it (ADR 0015, ADR 0053). So a filter's *shape* — its
tree with each value replaced by the value's type (and, for a string, whether it is empty or long:
``co ""`` compiles to something else, and so does a long ``co``), on one resource type — names a
plan (``filters.plan_filter``): a clause whose values are bind parameters, and how each takes its
value from the filter (folded, a LIKE pattern, microseconds…). A request only walks its tree for
the shape and its values.

The clause of a shape is always the same object, and so is a SCIM search's statement around it
(``searches.search_rows``): SQLAlchemy memoizes a statement's cache key, by which ``prepared.rows``
finds the compiled SQL, so it is computed once per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from scimhub.query.filter.tree import And, Compare, Filter, Not, Or, Present, ValuePath, filter_terms
from scimhub.query.paths import AttrRef
from scimhub.query.schema import ResourceType
from scimhub.store.sql.filters import FilterPlan, plan_filter, text_shape

SHAPES_KEPT = 1_000
"""Filter shapes whose plans are kept per process, the least recently used dropped first."""


@dataclass(frozen=True)
class BoundFilter:
    """A filter as SQL: a WHERE clause shared by every filter of its shape, and this filter's values."""

    shape: tuple[Any, ...]
    """The filter's shape: what names its plan, and any statement built around the clause alone."""
    clause: ColumnElement[bool]
    """Holds a bind parameter ``filter_<n>`` for each value it compares with, converted as compared."""
    values: dict[str, Any]
    """This filter's values of those parameters: pass them with every statement the clause is in."""


_plans: OrderedDict[tuple[Any, ...], FilterPlan] = OrderedDict()
_lock = threading.Lock()


def compile_filter(resource_type: ResourceType, filter: Filter) -> BoundFilter:
    """Return the WHERE clause over the resource type's table that holds where ``filter`` matches.

    :raises InvalidFilter: As ``filters.plan_filter`` does (a plan that fails is not kept).
    """
    key, compares = shape_of(resource_type, filter)
    with _lock:
        plan = _plans.get(key)
        if plan is not None:
            _plans.move_to_end(key)
    if plan is None:
        plan = plan_filter(resource_type, filter, compares)
        with _lock:
            _plans[key] = plan
            while len(_plans) > SHAPES_KEPT:
                _plans.popitem(last=False)
    return BoundFilter(key, plan.clause, plan.values([node.value for node in compares]))


def shape_of(resource_type: ResourceType, filter: Filter) -> tuple[tuple[Any, ...], list[Compare]]:
    """Return the shape of ``filter`` on ``resource_type`` and its comparisons, in the order of its values."""
    shape: list[Any] = [resource_type]
    compares: list[Compare] = []
    _walk(filter, shape, compares)
    return tuple(shape), compares


def _walk(node: Filter, shape: list[Any], compares: list[Compare]) -> None:
    """Append ``node``'s shape to ``shape``, each node in prefix order, and its comparisons to ``compares``.

    And and Or chains are flattened as the compiler flattens them; each entry says how many
    operands follow, so no two trees share a shape.
    """
    if isinstance(node, (And, Or)):
        terms = filter_terms(node)
        shape.append((type(node), len(terms)))
        for term in terms:
            _walk(term, shape, compares)
    elif isinstance(node, Not):
        shape.append(Not)
        _walk(node.inner, shape, compares)
    elif isinstance(node, ValuePath):
        shape.append((ValuePath, *path_key(node.path)))
        _walk(node.inner, shape, compares)
    elif isinstance(node, Present):
        shape.append((Present, *path_key(node.path)))
    else:
        shape.append(
            (Compare, *path_key(node.path), node.op, type(node.value), text_shape(node.op, node.value))
        )
        compares.append(node)


def path_key(ref: AttrRef) -> tuple[str | None, str, str | None]:
    """Return what names ``ref`` within its resource type (names, not the attributes: hashing those costs)."""
    return (
        ref.schema.id if ref.schema is not None else None,
        ref.attribute.name,
        ref.sub.name if ref.sub is not None else None,
    )
