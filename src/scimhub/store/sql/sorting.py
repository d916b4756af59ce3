"""ORDER BY for SCIM's ``sortBy`` and ``sortOrder`` (RFC 7644 §3.4.2.3), read from the indexes in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, func
from sqlalchemy.schema import UniqueConstraint

from scimhub.errors import InvalidValue
from scimhub.query.paths import AttrRef
from scimhub.query.schema import ResourceType
from scimhub.store.sql.filters import TABLES, DocElements, ResourceScope
from scimhub.store.sql.functions import code_point_order


def sort_order(
    resource_type: ResourceType, attr: AttrRef, descending: bool = False
) -> list[ColumnElement[Any]]:
    """Return the ORDER BY terms that sort resources by ``attr``, then by id (RFC 7644 §3.4.2.3).

    :raises InvalidValue: When resources cannot be sorted by ``attr``.
    """
    return [key.desc() if down else key.asc() for key, down in sort_terms(resource_type, attr, descending)]


def sort_terms(
    resource_type: ResourceType, attr: AttrRef | None, descending: bool = False
) -> list[tuple[ColumnElement[Any], bool]]:
    """Return what sorts resources by ``attr`` (by id when None): each expression, and whether it descends.

    Together the terms are unique per row: the last is the id, or the attribute's
    column where that is unique. Resources without the attribute sort last,
    whichever the order. That term is left out where the column cannot be NULL
    (userName, displayName, id, meta dates), and the id is left out where the
    column is unique: either would keep the engines from reading the column's
    index in order, and they would sort the whole table for every page.

    :raises InvalidValue: When resources cannot be sorted by ``attr``.
    """
    tie_break = TABLES[resource_type.name].c.id
    if attr is None:
        return [(tie_break, False)]
    key = sort_expression(resource_type, attr)
    column = key.clauses.clauses[0] if isinstance(key, code_point_order) else key
    if isinstance(column, Column) and _unique(column):
        return [(key, descending)]
    if isinstance(column, Column) and not column.nullable:
        return [(key, descending), (tie_break, False)]
    return [(key.is_(None), False), (key, descending), (tie_break, False)]


def _unique(column: Column[Any]) -> bool:
    """Tell whether no two rows share a value of ``column``."""
    return bool(column.primary_key or column.unique) or any(
        isinstance(constraint, UniqueConstraint) and list(constraint.columns) == [column]
        for constraint in column.table.constraints
    )


def sort_expression(resource_type: ResourceType, attr: AttrRef) -> ColumnElement[Any]:
    """Return the expression that orders resources by ``attr`` (RFC 7644 §3.4.2.3).

    Strings of caseExact=false attributes sort lower-cased, all strings by code
    point; a multi-valued attribute sorts by its primary element, else its first;
    a complex one by its ``value``. The expression is NULL where the attribute is
    unassigned, for the caller to place those last.

    :raises InvalidValue: When resources cannot be sorted by ``attr``.
    """
    scope = ResourceScope(resource_type)
    value = attr.target.sub("value") if attr.target.is_complex else None
    if value is not None:
        attr = attr.with_sub(value)  # emails sorts by emails.value
    if attr.attribute.multi_valued:
        source = scope.elements(attr, set(), needs_value=False)
        if not isinstance(source, DocElements):  # membership rows: no primary, no first
            raise InvalidValue(f"cannot sort by '{attr}'")
        field = source.first_or_primary(attr)
    elif attr.target.is_complex:
        raise InvalidValue(f"cannot sort by '{attr}'")
    else:
        field = scope.field(attr)
    if field.kind in ("json", "datetime", "location"):
        if field.kind != "location":
            raise InvalidValue(f"cannot sort by '{attr}'")
        return scope.table.c.id  # …/<endpoint>/<id> orders as the ids do
    if field.kind == "text":
        return code_point_order(field.expr if attr.target.case_exact else func.lower(field.expr))
    if field.kind == "key":
        return code_point_order(field.expr)
    return field.expr
