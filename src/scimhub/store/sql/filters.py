"""SCIM filter trees (``query/filter/tree.py``) → SQLAlchemy Core, for SQLite and PostgreSQL.

Every value reaches the database as a bound parameter; nothing of the filter's
text is ever written into SQL. Where an attribute is stored decides how it is read:

- indexed columns: ``id``, ``externalId``, ``userName`` and Group ``displayName``
  (through their lower-cased ``*_key`` columns), ``meta.created`` and
  ``meta.lastModified`` (microseconds), ``meta.version`` (the counter behind the
  ``W/"<n>"`` ETag); ``meta.resourceType`` is a constant;
- rows: ``emails`` (``user_emails``, lower-cased: Entra's
  ``emails[type eq "work"].value eq "…"`` is an index lookup), User ``groups`` and
  Group ``members`` (``group_members``);
- everything else: the ``doc`` JSON column, multi-valued attributes expanded by
  ``json_each`` (SQLite) or ``jsonb_array_elements`` (PostgreSQL).

The semantics are those of ``query.filter.evaluation.matches_resource`` (the tests run both
over the same data): a value path is one ``EXISTS`` over the elements, so all its
conditions hold for the same element; ``not`` and ``ne`` compile to
``… IS NOT TRUE``, so a missing attribute (SQL NULL) satisfies them as RFC 7644
§3.4.2.2 expects instead of vanishing in three-valued logic; strings of
caseExact=false attributes compare lower-cased on both sides; strings order by
code point on both engines (``COLLATE "C"`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Exists,
    Table,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import UniqueConstraint
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import False_, True_
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.operators import in_op

from scimhub.domain.text import fold
from scimhub.errors import InvalidFilter, InvalidValue
from scimhub.query.filter.evaluation import compare_value
from scimhub.query.filter.tree import And, Compare, Filter, Literal, Not, Or, Present, ValuePath, filter_terms
from scimhub.query.paths import AttrRef
from scimhub.query.schema import Attribute, ResourceType
from scimhub.store.sql.tables import group_members, groups, user_emails, users

_TABLES = {"User": users, "Group": groups}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_TYPES = ("string", "reference", "binary")


def compile_filter(resource_type: ResourceType, filter: Filter) -> ColumnElement[bool]:
    """Return a WHERE clause over the resource type's table that holds where ``filter`` matches.

    The clause needs no connection: dialect differences are settled when it is
    compiled for SQLite or PostgreSQL.

    :raises InvalidFilter: When the filter compares an attribute the store cannot
        search that way: ``meta.location``, ``groups.type``, a ``$ref``, ordering
        on ``meta.version``, a dateTime kept in ``doc``.
    """
    return _compile(filter, _ResourceScope(resource_type))


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
    tie_break = _TABLES[resource_type.name].c.id
    if attr is None:
        return [(tie_break, False)]
    key = sort_expression(resource_type, attr)
    column = key.clauses.clauses[0] if isinstance(key, _code_point_order) else key
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
    scope = _ResourceScope(resource_type)
    value = attr.target.sub("value") if attr.target.is_complex else None
    if value is not None:
        attr = attr.with_sub(value)  # emails sorts by emails.value
    if attr.attribute.multi_valued:
        source = scope.elements(attr, set(), needs_value=False)
        if not isinstance(source, _DocElements):  # membership rows: no primary, no first
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
        return _code_point_order(field.expr if attr.target.case_exact else func.lower(field.expr))
    if field.kind == "key":
        return _code_point_order(field.expr)
    return field.expr


@dataclass(frozen=True)
class _Field:
    """A SQL expression for an attribute's value, and how to compare with it."""

    expr: ColumnElement[Any]
    kind: str
    """``text``; ``key`` (text lower-cased when written); ``boolean``; ``number``;
    ``micros`` (a dateTime column); ``version`` (the ETag counter); ``constant``
    (``expr`` is a literal); ``location``; ``datetime`` (a dateTime string in
    ``doc``); ``json`` (a complex value: presence only)."""


class _Scope(Protocol):
    def compare(self, ref: AttrRef, op: str, value: Literal) -> ColumnElement[bool]: ...

    def present(self, ref: AttrRef) -> ColumnElement[bool]: ...

    def value_path(self, node: ValuePath) -> ColumnElement[bool]: ...


def _compile(node: Filter, scope: _Scope) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_compile(term, scope) for term in filter_terms(node)))
    if isinstance(node, Or):
        return or_(*(_compile(term, scope) for term in filter_terms(node)))
    if isinstance(node, Not):
        return _negate(_compile(node.inner, scope))
    if isinstance(node, Present):
        return scope.present(node.path)
    if isinstance(node, ValuePath):
        return scope.value_path(node)
    if node.value is None:  # eq null: not present; ne null: present
        present = scope.present(node.path)
        return present if node.op == "ne" else _negate(present)
    if node.op == "ne":
        return _negate(scope.compare(node.path, "eq", node.value))
    return scope.compare(node.path, node.op, node.value)


def _negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return NOT ``clause``, where a NULL ``clause`` (an unassigned attribute) counts as false."""
    if isinstance(clause, (Exists, True_, False_)) or getattr(clause, "operator", None) is in_op:
        return ~clause  # never NULL: plain NOT
    return clause.is_not(true())


class _ResourceScope:
    """Resolve paths against a resource row: its columns, membership rows and ``doc``."""

    def __init__(self, resource_type: ResourceType) -> None:
        self.resource_type = resource_type
        self.table: Table = _TABLES[resource_type.name]

    def compare(self, ref: AttrRef, op: str, value: Literal) -> ColumnElement[bool]:
        if ref.attribute.multi_valued:
            source = self.elements(ref, _names(ref), needs_value=_names(ref) == {"value"})
            return source.exists(lambda scope: scope.compare(ref, op, value))
        return _predicate(self.field(ref), ref, op, value)

    def present(self, ref: AttrRef) -> ColumnElement[bool]:
        if ref.attribute.multi_valued:
            source = self.elements(ref, _names(ref), needs_value=_names(ref) == {"value"})
            return source.exists(lambda scope: scope.present(ref))
        return _presence(self.field(ref))

    def value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if not node.path.attribute.multi_valued:
            # manager[value eq "x"]: one element at most, whose paths are manager.*
            return and_(self.present(node.path), _compile(node.inner, self))
        source = self.elements(node.path, _sub_names(node.inner), needs_value=_requires_value(node.inner))
        return source.exists(lambda scope: _compile(node.inner, scope))

    def elements(self, ref: AttrRef, subs: set[str], needs_value: bool) -> _DocElements | _Rows:
        """Return where the elements of the multi-valued attribute ``ref`` are stored."""
        where = (self.resource_type.name, None if ref.is_extension else ref.attribute.name)
        if where == ("Group", "members"):
            return _Rows(self, ref, group_members.alias("member"), "group_id", _MEMBER_COLUMNS)
        if where == ("User", "groups"):
            return _Rows(self, ref, group_members.alias("membership"), "member_id", _GROUP_COLUMNS)
        # user_emails holds only the elements that have a value: it answers when
        # the filter needs a value anyway (Entra: emails[type eq "work"].value eq …).
        if where == ("User", "emails") and needs_value and subs <= {"value", "type"}:
            return _Rows(self, ref, user_emails.alias("email"), "user_id", _EMAIL_COLUMNS)
        return _DocElements(self, ref)

    def field(self, ref: AttrRef) -> _Field:
        """Return the column or ``doc`` expression that holds a single-valued attribute."""
        table, target = self.table, ref.target
        if ref.schema is None:  # id, externalId, meta (RFC 7643 §3.1)
            if ref.attribute.name in ("id", "externalId"):
                return _Field(table.c.id if ref.attribute.name == "id" else table.c.external_id, "text")
            name = ref.sub.name if ref.sub is not None else ""
            if name in ("created", "lastModified"):
                return _Field(table.c.created if name == "created" else table.c.last_modified, "micros")
            if name == "version":
                return _Field(table.c.version, "version")
            if name == "location":
                return _Field(table.c.id, "location")
            return _Field(literal(self.resource_type.name), "constant")  # meta.resourceType, meta
        if not ref.is_extension and ref.sub is None:
            if table is users and target.name == "userName":
                return _Field(users.c.user_name_key, "key")
            if table is groups and target.name == "displayName":
                return _Field(groups.c.display_name_key, "key")
            if table is users and target.name == "displayName":
                return _Field(users.c.display_name, "text")
        return _typed(table.c.doc[ref.keys], target)


class _ElementScope:
    """Resolve the paths of a value filter against one element of a multi-valued attribute."""

    def __init__(self, field: Callable[[Attribute | None], _Field]) -> None:
        self.field = field

    def compare(self, ref: AttrRef, op: str, value: Literal) -> ColumnElement[bool]:
        return _predicate(self.field(ref.sub), ref, op, value)

    def present(self, ref: AttrRef) -> ColumnElement[bool]:
        if ref.sub is None and ref.attribute.is_complex:
            return true()  # the element itself: it exists
        return _presence(self.field(ref.sub))

    def value_path(self, node: ValuePath) -> ColumnElement[bool]:
        raise InvalidFilter(f"a value path cannot be nested in another ('{node.path}')")


class _DocElements:
    """The elements of a multi-valued attribute inside ``doc``, one row each."""

    def __init__(self, resource: _ResourceScope, ref: AttrRef) -> None:
        self.resource, self.ref = resource, ref.with_sub(None)
        self.array = resource.table.c.doc[self.ref.keys]
        complex_ = ref.attribute.is_complex
        function = _json_elements(self.array) if complex_ else _json_text_elements(self.array)
        self.alias = function.table_valued("value").alias("element")

    def field(self, sub: Attribute | None) -> _Field:
        if sub is not None:
            return _typed(type_coerce(self.alias.c.value, JSON)[sub.name], sub)
        attribute = self.ref.attribute
        return _Field(self.alias.c.value, "text" if attribute.type in _TEXT_TYPES else "json")

    def exists(self, where: Callable[[_ElementScope], ColumnElement[bool]]) -> ColumnElement[bool]:
        return exists(
            select(literal_column("1")).select_from(self.alias).where(where(_ElementScope(self.field)))
        )

    def first_or_primary(self, attr: AttrRef) -> _Field:
        """Return the primary element's sub-attribute, else the first element's (RFC 7644 §3.4.2.3)."""
        sub = attr.sub
        if sub is None:
            raise InvalidValue(f"cannot sort by '{attr}'")
        first = _typed(self.resource.table.c.doc[(*self.ref.keys, 0, sub.name)], sub)
        primary = self.ref.attribute.sub("primary")
        if primary is None:
            return first
        flag = self.field(primary).expr
        chosen = select(self.field(sub).expr).select_from(self.alias).where(flag == true()).limit(1)
        return _Field(func.coalesce(chosen.scalar_subquery(), first.expr), first.kind)


class _Rows:
    """Elements kept as rows of another table, tied to the resource by one column."""

    def __init__(
        self,
        resource: _ResourceScope,
        ref: AttrRef,
        rows: Any,
        link: str,
        columns: dict[str, tuple[str, str]],
    ) -> None:
        self.resource, self.ref, self.rows, self.link, self.columns = resource, ref, rows, link, columns

    def field(self, sub: Attribute | None) -> _Field:
        name = sub.name if sub is not None else ""
        if name not in self.columns:
            path = self.ref.with_sub(sub)
            raise InvalidFilter(f"'{path}' is derived, not stored, so it cannot be filtered")
        column, kind = self.columns[name]
        if column == "owner_display_name_key":  # User groups.display: the group's displayName
            owner = groups.alias("owner")
            found = select(owner.c.display_name_key).where(owner.c.id == self.rows.c.group_id)
            return _Field(found.scalar_subquery(), kind)
        return _Field(self.rows.c[column], kind)

    def exists(self, where: Callable[[_ElementScope], ColumnElement[bool]]) -> ColumnElement[bool]:
        # ``id IN (SELECT …)`` rather than a correlated EXISTS: SQLite does not turn
        # EXISTS into a semi-join, so this is what lets it start from the rows'
        # index (PostgreSQL plans both forms alike). Neither side is ever NULL.
        chosen = select(self.rows.c[self.link]).where(where(_ElementScope(self.field)))
        return self.resource.table.c.id.in_(chosen)


_EMAIL_COLUMNS = {"value": ("value_key", "key"), "type": ("type_key", "key")}
_MEMBER_COLUMNS = {
    "value": ("member_id", "key"),
    "type": ("member_type", "text"),
    "display": ("display", "text"),
}
_GROUP_COLUMNS = {"value": ("group_id", "key"), "display": ("owner_display_name_key", "key")}
"""``groups.type`` (direct or indirect) and every ``$ref`` are derived, not stored: not filterable.

The ids in group_members count as lower-cased keys: ``members.value`` is caseExact=false
(RFC 7643 §8.7.1), and comparing ``lower(member_id)`` would forgo the index. This holds
because the directory stores only ids it generated (``uuid4().hex``, lower case) and
refuses members that name no stored resource (directory/groups.py ``_typed_members``).
"""


def _typed(value: Any, attribute: Attribute) -> _Field:
    """Return a JSON element read as the attribute's type."""
    if attribute.type in _TEXT_TYPES:
        return _Field(value.as_string(), "text")
    if attribute.type == "boolean":
        return _Field(value.as_boolean(), "boolean")
    if attribute.type == "integer":
        return _Field(value.as_integer(), "number")
    if attribute.type == "decimal":
        return _Field(value.as_float(), "number")
    # Anything else only takes pr: as_string is NULL exactly where the value is missing.
    return _Field(value.as_string(), "datetime" if attribute.type == "dateTime" else "json")


def _names(ref: AttrRef) -> set[str]:
    return {ref.sub.name} if ref.sub is not None else set()


def _sub_names(node: Filter) -> set[str]:
    """Return the sub-attributes the paths of a value filter name."""
    if isinstance(node, (And, Or)):
        return set().union(*(_sub_names(term) for term in filter_terms(node)))
    if isinstance(node, Not):
        return _sub_names(node.inner)
    return _names(node.path) if isinstance(node, (Compare, Present)) else set()


def _requires_value(node: Filter) -> bool:
    """Tell whether only elements with a ``value`` can match a value filter."""
    if isinstance(node, And):
        return any(_requires_value(term) for term in filter_terms(node))
    if isinstance(node, Or):
        return all(_requires_value(term) for term in filter_terms(node))
    if isinstance(node, Present):
        return _names(node.path) == {"value"}
    if isinstance(node, Compare):
        return _names(node.path) == {"value"} and node.op != "ne" and node.value is not None
    return False


def _presence(field: _Field) -> ColumnElement[bool]:
    """Apply ``pr``: the value is assigned, and is not an empty string."""
    if field.kind in ("constant", "location", "micros", "version"):
        return true()
    if field.kind in ("text", "key"):
        return and_(field.expr.is_not(None), field.expr != "")
    return field.expr.is_not(None)


def _predicate(field: _Field, ref: AttrRef, op: str, value: Literal) -> ColumnElement[bool]:
    """Return ``field op value`` for every operator but ``ne`` (compiled as ``not eq``)."""
    attribute = ref.target
    if field.kind == "constant":
        return true() if compare_value(attribute, op, field.expr.value, value) else false()
    if field.kind == "micros" and isinstance(value, datetime):
        return _ordered(field.expr, op, (value - _EPOCH) // timedelta(microseconds=1))
    if field.kind == "version" and op == "eq" and isinstance(value, str):
        number = value[3:-1] if value.startswith('W/"') and value.endswith('"') else ""
        return field.expr == int(number) if number.isdigit() else false()
    if field.kind in ("boolean", "number") and not isinstance(value, (str, datetime)):
        return _ordered(field.expr, op, value)
    if field.kind in ("text", "key") and isinstance(value, str):
        return _text(field, attribute.case_exact, op, value)
    if field.kind == "location":
        raise InvalidFilter(
            f"'{ref}' is derived from the request's URL, so it cannot be compared; filter on id"
        )
    if field.kind == "version":
        raise InvalidFilter(f"'{ref}' takes only eq, ne and pr")
    raise InvalidFilter(f"'{ref}' cannot be compared with '{op}' in a search")


def _ordered(expr: ColumnElement[Any], op: str, value: object) -> ColumnElement[bool]:
    operators: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "eq": lambda a, b: a == b,
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    return operators[op](expr, value)


def _text(field: _Field, case_exact: bool, op: str, value: str) -> ColumnElement[bool]:
    """Compare strings: lower-cased unless caseExact, by code point, substrings through LIKE."""
    subject: ColumnElement[Any] = field.expr
    operand: ColumnElement[Any] = literal(value)
    if field.kind == "key":
        operand = literal(fold(value))  # the column holds fold() of what was written (ADR 0021)
    elif not case_exact:
        subject, operand = func.lower(subject), func.lower(operand)
    if op in ("co", "sw", "ew"):
        if not value:  # every string contains, starts and ends with ""
            return subject.is_not(None)
        if field.kind == "key" or not case_exact:
            text = fold(value) if field.kind == "key" else value
            escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
            pattern = ("%" if op != "sw" else "") + escaped + ("%" if op != "ew" else "")
            lowered = literal(pattern) if field.kind == "key" else func.lower(literal(pattern))
            return subject.like(lowered, escape="/")
        # SQLite's LIKE ignores ASCII case, so case-exact substrings use functions
        # both engines share and that never ignore case.
        if op == "co":
            return func.replace(subject, operand, "") != subject
        if op == "sw":
            return func.substr(subject, 1, func.length(operand)) == operand
        start = func.length(subject) - func.length(operand) + 1
        return and_(start >= 1, func.substr(subject, start) == operand)
    if op == "eq":
        return subject == operand
    return _ordered(_code_point_order(subject), op, _code_point_order(operand))


class _json_elements(FunctionElement[Any]):
    """Expand a JSON array into rows of JSON values: ``json_each`` / ``jsonb_array_elements``."""

    inherit_cache = True
    name = "json_elements"


class _json_text_elements(FunctionElement[Any]):
    """Expand a JSON array of scalars into rows of SQL values (``jsonb_array_elements_text``)."""

    inherit_cache = True
    name = "json_text_elements"


class _code_point_order(FunctionElement[Any]):
    """Order strings by code point: ``COLLATE "C"`` on PostgreSQL, SQLite's default BINARY."""

    inherit_cache = True
    name = "code_point_order"


@compiles(_json_elements)
@compiles(_json_text_elements)
def _compile_json_each(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy reads doc[path] on SQLite as JSON_QUOTE(JSON_EXTRACT(…)), which
    # turns a missing array into the JSON text 'null', and json_each('null') yields
    # one row. The array's text (NULL when missing: no rows) is read instead, with
    # the same bound path, so the cached statement stays keyed on it.
    (array,) = element.clauses.clauses
    return f"json_each({compiler.process(array.as_string(), **kw)})"


@compiles(_json_elements, "postgresql")
def _compile_jsonb_array_elements(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_array_elements({compiler.process(element.clauses, **kw)})"


@compiles(_json_text_elements, "postgresql")
def _compile_jsonb_array_elements_text(
    element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any
) -> str:
    return f"jsonb_array_elements_text({compiler.process(element.clauses, **kw)})"


@compiles(_code_point_order)
def _compile_binary_order(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(_code_point_order, "postgresql")
def _compile_collate_c(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'
