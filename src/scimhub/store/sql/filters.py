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

A clause is planned once per filter *shape* (``shapes.py``, ADR 0053): each value the filter
compares with becomes a ``_Slot``, whose bind parameters carry a conversion of the value
(folded, a LIKE pattern, microseconds…) computed per request. Only what the shape holds, the
value's type and, for a string, its ``text_shape``, may decide the SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BindParameter,
    Boolean,
    ColumnElement,
    Exists,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import False_, True_
from sqlalchemy.sql.operators import in_op

from scimhub.domain.text import fold
from scimhub.domain.versions import tagged_version
from scimhub.errors import InvalidFilter, InvalidValue
from scimhub.query.filter.evaluation import compare_value
from scimhub.query.filter.tree import And, Compare, Filter, Literal, Not, Or, Present, ValuePath, filter_terms
from scimhub.query.paths import AttrRef
from scimhub.query.schema import Attribute, ResourceType
from scimhub.store.sql.functions import (
    code_point_order,
    ends_with,
    json_elements,
    json_text_elements,
    position_of,
    position_of_bytes,
)
from scimhub.store.sql.tables import group_members, groups, user_emails, users

TABLES = {"User": users, "Group": groups}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_TYPES = ("string", "reference", "binary")


SHORT_SUBSTRING = 32
"""The longest ``LIKE`` pattern, escapes included, that ``co`` and ``ew`` look for as they always did.

``LIKE '%…'`` tries its pattern at each character of the text, stepping through both a character
at a time: a cost that is the product of both lengths, 4 s for 4,000 characters over fifteen 64 KB
values. A longer value is found by ``memcmp`` (44 ms there) or by the text's end (ADR 0087). A short
one keeps ``LIKE``, whose rows PostgreSQL estimates, where a function's it guesses at a third of the
table. An escaped ``%``, ``_`` or ``/`` is two characters of the pattern, and costs SQLite as much.
"""


def text_shape(op: str, value: Literal) -> str | None:
    """Return what of a compared string decides its SQL, None for other values.

    ``"empty"`` (``co ""`` holds for any string); for ``co`` and ``ew``, ``"short"`` or ``"long"``
    by ``SHORT_SUBSTRING``; else ``"text"``.
    """
    if not isinstance(value, str):
        return None
    if not value:
        return "empty"
    if op not in ("co", "ew"):
        return "text"
    escapes = value.count("%") + value.count("_") + value.count("/") if len(value) <= SHORT_SUBSTRING else 0
    return "short" if len(value) + escapes <= SHORT_SUBSTRING else "long"


Transform = Callable[[Any], Any]
"""Turns one of the filter's values into what a bind parameter takes (``fold``, a LIKE pattern…)."""


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class FilterPlan:
    """A filter's WHERE clause, fit for every filter of its shape, and how to bind one's values."""

    clause: ColumnElement[bool]
    """Holds a bind parameter ``filter_<n>`` for each conversion of a value it compares with."""
    binds: tuple[tuple[str, int, Transform], ...]
    """Per bind parameter: its name, its value's index in ``plan_filter``'s ``compares``, its conversion."""

    def values(self, literals: Sequence[Literal]) -> dict[str, Any]:
        """Return the bind parameters' values for a filter of this shape whose values are ``literals``."""
        return {name: transform(literals[index]) for name, index, transform in self.binds}


def plan_filter(resource_type: ResourceType, filter: Filter, compares: Sequence[Compare]) -> FilterPlan:
    """Return the plan of a WHERE clause over the resource type's table that holds where ``filter`` matches.

    ``compares`` are the filter's comparisons; their values are bound, by position in
    ``compares``, so the plan serves every filter of this shape. The clause needs no
    connection: dialect differences are settled when it is compiled for SQLite or PostgreSQL.

    :raises InvalidFilter: When the filter compares an attribute the store cannot
        search that way: ``meta.location``, ``groups.type``, a ``$ref``, ordering
        on ``meta.version``, a dateTime kept in ``doc``.
    """
    slots = _Slots(compares)
    clause = _compile(filter, ResourceScope(resource_type), slots)
    return FilterPlan(clause, tuple(slots.binds))


@dataclass(frozen=True, eq=False)
class _Slot:
    """One value the filter compares with: bound per request, known here only by what its shape tells.

    ``sample`` is the value of the filter the plan is made from. Its type decides the SQL (as
    SQLAlchemy types a bound value by it); its value never may: the plan serves other values.
    """

    index: int
    sample: Literal
    binds: list[tuple[str, int, Transform]] = field(repr=False)

    def text_shape(self, op: str) -> str | None:
        """Return what of the value, a string compared by ``op``, is part of the shape (``text_shape``)."""
        return text_shape(op, self.sample)

    def bind(self, transform: Transform = _same, type_: Any = None) -> BindParameter[Any]:
        """Return a new bind parameter that takes ``transform`` of the value, typed ``type_``."""
        name = f"filter_{len(self.binds)}"
        self.binds.append((name, self.index, transform))
        return bindparam(name, type_=type_, required=True)

    def compared(self, expr: ColumnElement[Any], op: str, transform: Transform = _same) -> BindParameter[Any]:
        """Return a bind parameter for ``transform`` of the value, typed as SQLAlchemy types it by ``expr``.

        That is the type ``expr > value`` gives the literal (``coerce_compared_value``: the
        column's, unless the value's own type has another affinity). PostgreSQL's driver casts
        each parameter to its type, so another type could change an answer.
        """
        return self.bind(transform, expr.type.coerce_compared_value(_OPERATORS[op], transform(self.sample)))


class _Slots:
    """The slots of the values of one filter, found by their comparison."""

    def __init__(self, compares: Sequence[Compare]) -> None:
        self.binds: list[tuple[str, int, Transform]] = []
        self._by_node = {id(node): _Slot(n, node.value, self.binds) for n, node in enumerate(compares)}

    def of(self, node: Compare) -> _Slot:
        """Return the slot of ``node``'s value."""
        return self._by_node[id(node)]


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
    def compare(self, ref: AttrRef, op: str, value: _Slot) -> ColumnElement[bool]: ...

    def present(self, ref: AttrRef) -> ColumnElement[bool]: ...

    def value_path(self, node: ValuePath, slots: _Slots) -> ColumnElement[bool]: ...


def _compile(node: Filter, scope: _Scope, slots: _Slots) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_compile(term, scope, slots) for term in filter_terms(node)))
    if isinstance(node, Or):
        return or_(*(_compile(term, scope, slots) for term in filter_terms(node)))
    if isinstance(node, Not):
        return _negate(_compile(node.inner, scope, slots))
    if isinstance(node, Present):
        return scope.present(node.path)
    if isinstance(node, ValuePath):
        return scope.value_path(node, slots)
    if node.value is None:  # eq null: not present; ne null: present
        present = scope.present(node.path)
        return present if node.op == "ne" else _negate(present)
    if node.op == "ne":
        return _negate(scope.compare(node.path, "eq", slots.of(node)))
    return scope.compare(node.path, node.op, slots.of(node))


def _negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return NOT ``clause``, where a NULL ``clause`` (an unassigned attribute) counts as false."""
    if isinstance(clause, (Exists, True_, False_)) or getattr(clause, "operator", None) is in_op:
        return ~clause  # never NULL: plain NOT
    return clause.is_not(true())


class ResourceScope:
    """Resolve paths against a resource row: its columns, membership rows and ``doc``."""

    def __init__(self, resource_type: ResourceType) -> None:
        self.resource_type = resource_type
        self.table: Table = TABLES[resource_type.name]

    def compare(self, ref: AttrRef, op: str, value: _Slot) -> ColumnElement[bool]:
        """Return where ``ref op value`` holds for a resource."""
        if ref.attribute.multi_valued:
            source = self.elements(ref, _names(ref), needs_value=_names(ref) == {"value"})
            return source.exists(lambda scope: scope.compare(ref, op, value))
        return _predicate(self.field(ref), ref, op, value)

    def present(self, ref: AttrRef) -> ColumnElement[bool]:
        """Return where a resource has a value of ``ref``."""
        if ref.attribute.multi_valued:
            source = self.elements(ref, _names(ref), needs_value=_names(ref) == {"value"})
            return source.exists(lambda scope: scope.present(ref))
        return _presence(self.field(ref))

    def value_path(self, node: ValuePath, slots: _Slots) -> ColumnElement[bool]:
        """Return where one element of a multi-valued attribute meets the bracketed filter."""
        if not node.path.attribute.multi_valued:
            # manager[value eq "x"]: one element at most, whose paths are manager.*
            return and_(self.present(node.path), _compile(node.inner, self, slots))
        source = self.elements(node.path, _sub_names(node.inner), needs_value=_requires_value(node.inner))
        return source.exists(lambda scope: _compile(node.inner, scope, slots))

    def elements(self, ref: AttrRef, subs: set[str], needs_value: bool) -> DocElements | _Rows:
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
        return DocElements(self, ref)

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

    def compare(self, ref: AttrRef, op: str, value: _Slot) -> ColumnElement[bool]:
        return _predicate(self.field(ref.sub), ref, op, value)

    def present(self, ref: AttrRef) -> ColumnElement[bool]:
        if ref.sub is None and ref.attribute.is_complex:
            return true()  # the element itself: it exists
        return _presence(self.field(ref.sub))

    def value_path(self, node: ValuePath, slots: _Slots) -> ColumnElement[bool]:
        raise InvalidFilter(f"a value path cannot be nested in another ('{node.path}')")


class DocElements:
    """The elements of a multi-valued attribute inside ``doc``, one row each."""

    def __init__(self, resource: ResourceScope, ref: AttrRef) -> None:
        self.resource, self.ref = resource, ref.with_sub(None)
        self.array = resource.table.c.doc[self.ref.keys]
        complex_ = ref.attribute.is_complex
        function = json_elements(self.array) if complex_ else json_text_elements(self.array)
        self.alias = function.table_valued("value").alias("element")

    def field(self, sub: Attribute | None) -> _Field:
        """Return an element's value, or its sub-attribute ``sub``, as a typed field."""
        if sub is not None:
            return _typed(type_coerce(self.alias.c.value, JSON)[sub.name], sub)
        attribute = self.ref.attribute
        return _Field(self.alias.c.value, "text" if attribute.type in _TEXT_TYPES else "json")

    def exists(self, where: Callable[[_ElementScope], ColumnElement[bool]]) -> ColumnElement[bool]:
        """Return where some element meets ``where``."""
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
        resource: ResourceScope,
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


def _predicate(field: _Field, ref: AttrRef, op: str, value: _Slot) -> ColumnElement[bool]:
    """Return ``field op value`` for every operator but ``ne`` (compiled as ``not eq``)."""
    attribute, sample = ref.target, value.sample
    if field.kind == "constant":  # meta.resourceType: compared here, the answer bound
        constant = field.expr.value
        return value.bind(lambda v: compare_value(attribute, op, constant, v), Boolean())
    if field.kind == "micros" and isinstance(sample, datetime):
        return _ordered(field.expr, op, value.compared(field.expr, op, _micros))
    if field.kind == "version" and op == "eq" and isinstance(sample, str):
        return field.expr == value.compared(field.expr, op, _version_number)
    if field.kind in ("boolean", "number") and not isinstance(sample, (str, datetime)):
        return _ordered(field.expr, op, value.compared(field.expr, op))
    if field.kind in ("text", "key") and isinstance(sample, str):
        return _text(field, attribute.case_exact, op, value)
    if field.kind == "location":
        raise InvalidFilter(
            f"'{ref}' is derived from the request's URL, so it cannot be compared; filter on id"
        )
    if field.kind == "version":
        raise InvalidFilter(f"'{ref}' takes only eq, ne and pr")
    raise InvalidFilter(f"'{ref}' cannot be compared with '{op}' in a search")


def _micros(value: datetime) -> int:
    """Return a dateTime as the microseconds since the epoch the ``created``/``lastModified`` columns hold."""
    return (value - _EPOCH) // timedelta(microseconds=1)


_MAX_VERSION = 2**31 - 1
"""The largest version a row holds: its column is an INTEGER, which PostgreSQL binds in 32 bits."""


def _version_number(value: str) -> int | None:
    """Return the counter of a ``W/"<n>"`` ETag; None (SQL NULL: no row equals it) for any other text.

    A version no row can hold is other text too: ``int`` read ``²`` as a 500, and past 2**31 − 1
    PostgreSQL refused to bind it (session 40).
    """
    version = tagged_version(value, weak_only=True)
    return version if version is not None and version <= _MAX_VERSION else None


_OPERATORS: dict[str, operators.OperatorType] = {
    "eq": operators.eq,
    "gt": operators.gt,
    "ge": operators.ge,
    "lt": operators.lt,
    "le": operators.le,
}


def _ordered(expr: ColumnElement[Any], op: str, operand: ColumnElement[Any]) -> ColumnElement[bool]:
    return _OPERATORS[op](expr, operand)


def _text(field: _Field, case_exact: bool, op: str, value: _Slot) -> ColumnElement[bool]:
    """Compare strings: lower-cased unless caseExact, by code point; substrings per ``SHORT_SUBSTRING``."""
    key = field.kind == "key"  # the column holds fold() of what was written (ADR 0021)
    subject: ColumnElement[Any] = field.expr if key or case_exact else func.lower(field.expr)
    shape = value.text_shape(op)
    if op in ("co", "sw", "ew"):
        if shape == "empty":  # every string contains, starts and ends with ""
            return subject.is_not(None)
        # SQLite's LIKE ignores ASCII case: it serves only where both sides are lower-cased. A prefix
        # stops at the first difference, whatever its length, and PostgreSQL reads a key's index for it.
        if (key or not case_exact) and (op == "sw" or shape == "short"):
            pattern = value.bind(lambda v: _like_pattern(op, fold(v) if key else v), String())
            return subject.like(pattern if key else func.lower(pattern), escape="/")
    operand: ColumnElement[Any] = value.bind(fold if key else _same, String())
    if not key and not case_exact:
        operand = func.lower(operand)
    if op == "co":
        find = position_of if shape == "short" else position_of_bytes
        return find(subject, operand) > 0
    if op == "sw":
        return func.substr(subject, 1, func.length(operand)) == operand
    if op == "ew":
        return ends_with(subject, operand)
    if op == "eq":
        return subject == operand
    return _ordered(code_point_order(subject), op, code_point_order(operand))


def _like_pattern(op: str, text: str) -> str:
    """Return the LIKE pattern (escape ``/``) of ``co``, ``sw`` or ``ew`` with ``text``."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return ("%" if op != "sw" else "") + escaped + ("%" if op != "ew" else "")
