"""SCIM filters (RFC 7644 §3.4.2.2): the syntax tree and what every reader of it shares.

``parser.py`` builds the tree; two masters read it: ``store/sql/filters.py``
compiles it to SQL for searches, and ``evaluation.py`` evaluates it in
Python for PATCH value paths (``emails[type eq "work"]``), which only ever look
inside one resource (ADR 0007).

The parser resolves every attribute against the schema and types every literal
against its attribute, so whatever reaches either master is already valid:

- a comparison names the attribute it compares. RFC 7644 §3.4.2.2 itself filters
  ``emails co "example.com"`` and Entra sends ``manager eq 2819c223-…``, so a
  complex attribute with a ``value`` sub-attribute stands for that sub-attribute;
  any other complex attribute only takes ``pr``;
- a dateTime literal is an aware ``datetime`` (UTC when written without offset),
  truncated to microseconds, the precision the store keeps;
- ``emails[type eq "work"].value eq "x"`` (Entra's uniqueness query; only PATCH
  paths have this form in the RFC grammar) parses to
  ``ValuePath(emails, And(type eq "work", value eq "x"))``: both conditions hold
  for one and the same element.

Semantics shared by the evaluator and the SQL compiler: ``x ne v`` is
``not (x eq v)``, so a resource without ``x`` matches it and a multi-valued ``x``
matches when none of its values equals ``v`` (RFC 7644 leaves ``ne`` on
multi-valued attributes open; scim2-models reads it the same way); ``x eq null``
is ``not (x pr)`` and ``x ne null`` is ``x pr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from scimhub.query.paths import AttrRef
from scimhub.query.schema import Attribute

Literal = str | int | float | bool | datetime | None
"""A comparison value, typed against its attribute by the parser.

``datetime`` was added for dateTime attributes: parsing the literal once, in the
parser, turns a malformed one into ``invalidFilter`` instead of a failure deep in
an evaluator or in SQL.
"""

MAX_LENGTH = 4096
"""The longest filter or PATCH path accepted, in characters."""
MAX_DEPTH = 32
"""The deepest nesting of parentheses (``not (…)`` included) and brackets accepted."""
MAX_TERMS = 20
"""The most comparisons (``attrPath op value`` or ``attrPath pr``) one filter or PATCH path holds.

Entra sends one or two (``eq`` and ``and`` only), Okta one (ADR 0025); a filter's cost,
in SQL and in the evaluator alike, grows with its terms, and 4,096 characters can hold
300 of them.
"""

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDER_OPS = frozenset({"gt", "ge", "lt", "le"})
SUBSTRING_OPS = frozenset({"co", "sw", "ew"})


@dataclass(frozen=True)
class Compare:
    """``attrPath compareOp compValue``; ``op`` is lower case (eq ne co sw ew gt ge lt le)."""

    path: AttrRef
    op: str
    value: Literal


@dataclass(frozen=True)
class Present:
    """``attrPath pr``."""

    path: AttrRef


@dataclass(frozen=True)
class And:
    """``left and right``."""

    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    """``left or right``."""

    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    """``not (inner)``."""

    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """``attrPath[valFilter]``: some element of a multi-valued attribute matches ``inner``.

    ``path`` names the attribute (no sub-attribute); the paths inside ``inner``
    name its sub-attributes (``AttrRef.sub`` set). For a multi-valued attribute of
    simple values an inner path has no sub-attribute and names the element itself
    (written ``value`` in the filter). A single-valued complex attribute may carry
    a value path too (``manager[value eq "x"]``, sent by Entra); it then has one
    element, or none.
    """

    path: AttrRef
    inner: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH operation's ``path`` (RFC 7644 §3.5.2): ``attrPath`` or ``valuePath [subAttr]``."""

    attribute: AttrRef
    """The attribute the path starts at, never narrowed to a sub-attribute."""
    value_filter: Filter | None
    """The filter between brackets, its paths relative to one element (see ``matches``)."""
    sub: Attribute | None
    """The sub-attribute the path ends at: ``name.givenName``, ``emails[…].value``."""

    @property
    def target(self) -> AttrRef:
        """Return the attribute narrowed to ``sub``, the innermost attribute the path names."""
        return self.attribute.with_sub(self.sub)


def filter_terms(node: And | Or) -> list[Filter]:
    """Return the operands of a chain of ``and`` (or of ``or``), left to right, without recursion."""
    terms: list[Filter] = []
    stack: list[Filter] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (And, Or)) and type(current) is type(node):
            stack.extend((current.right, current.left))
        else:
            terms.append(current)
    return terms


def matches_at_most_one(node: Filter) -> bool:
    """Tell whether ``node`` can match one resource at most: it requires ``eq`` on a unique attribute.

    An attribute whose ``uniqueness`` is ``server`` (``id``, ``userName``, a group's
    ``displayName``) is held unique by the store, compared as its ``eq`` compares: a search
    by it (every lookup Entra and Okta send) needs no count beyond its page (ADR 0057).
    """
    if isinstance(node, And):
        return any(matches_at_most_one(term) for term in filter_terms(node))
    return (
        isinstance(node, Compare)
        and node.op == "eq"
        and node.value is not None  # ``eq null`` is ``not pr``
        and node.path.sub is None
        and node.path.attribute.uniqueness == "server"
    )


def count_terms(node: Filter, weight: Callable[[Compare | Present], int] | None = None) -> int:
    """Return how many comparisons (``Compare`` and ``Present``) a filter holds, without recursion.

    With ``weight``, each comparison counts what it returns for it, not one.
    """
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (And, Or)):
            stack += (current.left, current.right)
        elif isinstance(current, (Not, ValuePath)):
            stack.append(current.inner)
        else:
            count += 1 if weight is None else weight(current)
    return count


def parse_datetime(text: str) -> datetime | None:
    """Return the instant an RFC 3339 / xsd:dateTime string names, in UTC; None if malformed.

    Digits of a second beyond the sixth are dropped (Entra sends seven), and a
    time without offset is taken as UTC.
    """
    if len(text) < 16 or text[10:11] not in ("T", "t", " "):
        return None
    head, dot, tail = text.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        if digits == 0:
            return None
        text = f"{head}.{tail[: min(digits, 6)]}{tail[digits:]}"
    try:
        instant = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
