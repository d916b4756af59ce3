"""SCIM filters (RFC 7644 §3.4.2.2): the syntax tree, the parser and an evaluator.

The same tree serves two masters: ``store/sql/filters.py`` compiles it to SQL for
searches, and ``matches`` evaluates it in Python for PATCH value paths
(``emails[type eq "work"]``), which only ever look inside one resource.

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

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from scimhub.errors import InvalidFilter, InvalidInput, InvalidPath
from scimhub.scim.paths import AttrRef, resolve
from scimhub.scim.schema import Attribute, ResourceType

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


def parse_filter(resource_type: ResourceType, text: str) -> Filter:
    """Parse a ``filter`` parameter (RFC 7644 §3.4.2.2) against ``resource_type``.

    :raises InvalidFilter: When the filter does not parse, names an attribute
        ``resource_type`` lacks or cannot filter, or compares it in a way its
        type does not allow; the detail names the fault and its position.
    """
    parser = _Parser(resource_type, text, InvalidFilter, "filter")
    result = parser.or_expression()
    parser.expect_end()
    return result


def parse_value_filter(resource_type: ResourceType, attribute: AttrRef, text: str) -> Filter:
    """Parse the filter of a value path, its attribute names relative to ``attribute``.

    ``parse_value_filter(USER, emails, 'type eq "work"')`` returns
    ``Compare(emails.type, "eq", "work")``, to be evaluated with ``matches``.

    :raises InvalidFilter: As ``parse_filter`` does.
    """
    if attribute.sub is not None or not (attribute.attribute.multi_valued or attribute.attribute.is_complex):
        raise InvalidFilter(f"'{attribute}' is neither multi-valued nor complex, so it takes no filter")
    parser = _Parser(resource_type, text, InvalidFilter, "filter")
    result = parser.or_expression(scope=attribute.with_sub(None))
    parser.expect_end()
    return result


def parse_patch_path(resource_type: ResourceType, text: str) -> PatchPath:
    """Parse a PATCH ``path`` (RFC 7644 §3.5.2) against ``resource_type``.

    Accepted: ``name.givenName``, ``members[value eq "x"]``,
    ``emails[type eq "work"].value``, URN-qualified paths
    (``urn:…:enterprise:2.0:User:manager.value``) and, as Entra sends it, a
    filter on a single-valued complex attribute (``manager[value eq "x"]``).

    :raises InvalidPath: When the path or its filter does not parse or names no
        attribute.
    """
    parser = _Parser(resource_type, text, InvalidPath, "path")
    token = parser.take()
    if token.kind != "word":
        parser.fail(token, "expected an attribute path")
    ref = parser.resolve_path(token, scope=None)
    value_filter: Filter | None = None
    sub = ref.sub
    if parser.peek().kind == "[":
        bracket = parser.take()
        if sub is not None or not (ref.attribute.multi_valued or ref.attribute.is_complex):
            parser.fail(bracket, f"'{ref}' is neither multi-valued nor complex, so it takes no filter")
        value_filter = parser.bracketed(ref, bracket)
        sub = parser.sub_attribute(ref)
    parser.expect_end()
    return PatchPath(ref.with_sub(None), value_filter, sub)


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""A JSON number (RFC 8259 §6)."""
_PUNCTUATION = "()[]"
_WORD_END = frozenset(_PUNCTUATION + '"')


@dataclass(frozen=True)
class _Token:
    kind: str
    """One of ``( ) [ ]``, ``string`` (a quoted literal), ``word`` or ``end``."""
    text: str
    """The decoded value of a string; the source text of anything else."""
    pos: int
    """Offset of the token's first character in the input."""
    glued: bool
    """Whether the token directly follows the previous one, without whitespace."""


def _tokenize(text: str, error: type[InvalidInput], what: str) -> list[_Token]:
    """Split ``text`` into tokens: punctuation, quoted strings and words.

    A word is any run of characters other than whitespace, brackets, parentheses
    and double quotes; the parser decides from its position whether it is an
    attribute path, an operator, a keyword or a literal. Tolerance (Entra):
    literals may be written unquoted (``externalId eq jyoung``,
    ``meta.created gt 2015-10-10T14:38:21.8617979-07:00``); such a bare word is
    read as a string, which is why words may hold ``-``, ``:``, ``.`` or ``@``.
    """
    tokens: list[_Token] = []
    i, n, glued = 0, len(text), True
    while i < n:
        char = text[i]
        if char.isspace():
            i, glued = i + 1, False
            continue
        if char in _PUNCTUATION:
            tokens.append(_Token(char, char, i, glued))
            i += 1
        elif char == '"':
            end = _string_end(text, i)
            if end < 0:
                raise error(f"unterminated string starting at position {i + 1} of the {what}")
            try:
                value = json.loads(text[i : end + 1])
            except ValueError:
                raise error(f"malformed string literal at position {i + 1} of the {what}") from None
            tokens.append(_Token("string", value, i, glued))
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _WORD_END:
                i += 1
            tokens.append(_Token("word", text[start:i], start, glued))
        glued = True
    tokens.append(_Token("end", "", n, glued))
    return tokens


def _string_end(text: str, start: int) -> int:
    """Return the offset of the quote closing the string opened at ``start``, or -1."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i
        else:
            i += 1
    return -1


class _Parser:
    """Recursive descent over the RFC 7644 §3.4.2.2 grammar; precedence not > and > or."""

    def __init__(self, resource_type: ResourceType, text: str, error: type[InvalidInput], what: str) -> None:
        if len(text) > MAX_LENGTH:
            raise error(f"the {what} is longer than {MAX_LENGTH} characters")
        self.resource_type = resource_type
        self.error = error
        self.what = what
        self.tokens = _tokenize(text, error, what)
        self.index = 0
        self.depth = 0
        if self.tokens[0].kind == "end":
            raise error(f"the {what} is empty")

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, token: _Token, message: str) -> NoReturn:
        raise self.error(f"{message} {self.where(token)}")

    def where(self, token: _Token) -> str:
        if token.kind == "end":
            return f"at the end of the {self.what}"
        return f"at position {token.pos + 1} of the {self.what}"

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            self.fail(token, f"unexpected {_describe(token)}")

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(token, f"nested deeper than {MAX_DEPTH} levels")

    def or_expression(self, scope: AttrRef | None = None) -> Filter:
        result = self.and_expression(scope)
        while self.is_keyword("or"):
            self.take()
            result = Or(result, self.and_expression(scope))
        return result

    def and_expression(self, scope: AttrRef | None) -> Filter:
        result = self.unary(scope)
        while self.is_keyword("and"):
            self.take()
            result = And(result, self.unary(scope))
        return result

    def unary(self, scope: AttrRef | None) -> Filter:
        if self.is_keyword("not"):
            self.take()
            if self.peek().kind != "(":
                self.fail(self.peek(), "expected '(' after 'not'")
            return Not(self.parenthesized(scope))
        if self.peek().kind == "(":
            return self.parenthesized(scope)
        return self.attribute_expression(scope)

    def parenthesized(self, scope: AttrRef | None) -> Filter:
        opening = self.take()
        self.enter(opening)
        result = self.or_expression(scope)
        if self.peek().kind != ")":
            self.fail(
                self.peek(),
                f"expected ')' closing the '(' at position {opening.pos + 1}, found {_describe(self.peek())}",
            )
        self.take()
        self.depth -= 1
        return result

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() == word

    def attribute_expression(self, scope: AttrRef | None) -> Filter:
        token = self.take()
        if token.kind != "word":
            self.fail(token, f"expected an attribute path, found {_describe(token)}")
        ref = self.resolve_path(token, scope)
        self.check_filterable(ref, token)
        if self.peek().kind == "[":
            bracket = self.take()
            if scope is not None:
                self.fail(bracket, "a value path cannot be nested in another")
            if ref.sub is not None or not (ref.attribute.multi_valued or ref.attribute.is_complex):
                self.fail(bracket, f"'{ref}' is neither multi-valued nor complex, so it takes no filter")
            inner = self.bracketed(ref, bracket)
            sub = self.sub_attribute(ref)
            if sub is None:
                return ValuePath(ref, inner)
            return ValuePath(ref, And(inner, self.condition(ref.with_sub(sub), token)))
        return self.condition(ref, token)

    def bracketed(self, ref: AttrRef, bracket: _Token) -> Filter:
        """Parse ``valFilter ]`` after the ``[`` of a value path on ``ref``."""
        self.enter(bracket)
        inner = self.or_expression(scope=ref)
        if self.peek().kind != "]":
            self.fail(
                self.peek(),
                f"expected ']' closing the '[' at position {bracket.pos + 1}, found {_describe(self.peek())}",
            )
        self.take()
        self.depth -= 1
        return inner

    def sub_attribute(self, ref: AttrRef) -> Attribute | None:
        """Parse the ``.subAttr`` that may follow ``]``."""
        token = self.peek()
        if not (token.kind == "word" and token.glued and token.text.startswith(".")):
            return None
        self.take()
        sub = ref.attribute.sub(token.text[1:])
        if sub is None:
            self.fail(token, f"'{ref}' has no sub-attribute '{token.text[1:]}'")
        return sub

    def resolve_path(self, token: _Token, scope: AttrRef | None) -> AttrRef:
        """Resolve an attribute path, relative to ``scope`` inside a value path."""
        where = " " + self.where(token)
        if token.text.endswith(".") or ".." in token.text:
            raise self.error(f"'{token.text}' is not an attribute path{where}")
        if scope is None:
            try:
                return _resolve(self.resource_type, token.text)
            except InvalidInput as error:
                raise self.error(error.detail + where) from None
        attribute = scope.attribute
        if not attribute.is_complex and token.text.lower() == "value":
            return scope.with_sub(None)
        sub = attribute.sub(token.text) if "." not in token.text else None
        if sub is None:
            raise self.error(f"'{token.text}' is not a sub-attribute of '{scope}'{where}")
        return scope.with_sub(sub)

    def check_filterable(self, ref: AttrRef, token: _Token) -> None:
        # The password is kept only as a hash: nothing can compare it, and saying
        # whether one is set would leak what RFC 7643 §4.1.1 never returns.
        if self.error is InvalidFilter and "never" in (ref.attribute.returned, ref.target.returned):
            self.fail(token, f"'{ref}' cannot be filtered")

    def condition(self, ref: AttrRef, path_token: _Token) -> Filter:
        """Parse ``pr`` or ``compareOp compValue`` after the attribute path ``ref``."""
        token = self.take()
        op = token.text.lower() if token.kind == "word" else ""
        if op == "pr":
            return Present(ref)
        if op not in COMPARE_OPS:
            self.fail(token, f"expected an operator after '{path_token.text}', found {_describe(token)}")
        target = ref.target
        if target.is_complex:
            value_sub = target.sub("value")
            if value_sub is None:
                self.fail(token, f"'{ref}' is complex: compare one of its sub-attributes")
            ref, target = ref.with_sub(value_sub), value_sub
        if op in ORDER_OPS and target.type in ("boolean", "binary"):
            self.fail(token, f"'{op}' cannot compare the {target.type} attribute '{ref}'")
        if op in SUBSTRING_OPS and target.type not in ("string", "reference"):
            self.fail(token, f"'{op}' cannot compare the {target.type} attribute '{ref}'")
        return Compare(ref, op, self.literal(ref, op))

    def literal(self, ref: AttrRef, op: str) -> Literal:
        """Parse a comparison value and type it against the attribute ``ref`` names."""
        token = self.take()
        if token.kind not in ("string", "word"):
            self.fail(token, f"expected a value to compare '{ref}' with, found {_describe(token)}")
        word = token.text.lower() if token.kind == "word" else None
        if word == "null":
            if op not in ("eq", "ne"):
                self.fail(token, f"'{op}' cannot compare with null")
            return None
        kind = ref.target.type
        if kind == "boolean":
            # Tolerance (Entra): booleans arrive as the strings "True" and "False"
            # (roles[primary eq "True"]), so a string spelling true or false in any
            # case compares as the boolean.
            if token.text.lower() in ("true", "false"):
                return token.text.lower() == "true"
            self.fail(token, f"'{ref}' is boolean: expected true or false, found {_describe(token)}")
        if kind in ("integer", "decimal"):
            if token.kind == "word" and _NUMBER.fullmatch(token.text):
                number = json.loads(token.text)
                if kind == "decimal":
                    return float(number)
                if isinstance(number, int) or number.is_integer():
                    return int(number)
            self.fail(token, f"'{ref}' is {kind}: expected a number, found {_describe(token)}")
        if kind == "dateTime":
            instant = parse_datetime(token.text)
            if instant is None:
                self.fail(
                    token, f"'{ref}' is a dateTime: {_describe(token)} is not an RFC 3339 date and time"
                )
            return instant
        # Tolerance (Entra, bare words): an unquoted number, true or false compared
        # with a string attribute is the text as written, so externalId eq 0042
        # finds "0042".
        return token.text


def _resolve(resource_type: ResourceType, text: str) -> AttrRef:
    """Resolve an attribute path, finding extension attributes named without their URN.

    Tolerance (Entra): ``manager eq …`` and ``manager[value eq …]`` name the
    enterprise extension's ``manager`` without its URN. A core attribute of the
    same name always wins, as RFC 7644 §3.10 reads a bare name as core.
    """
    try:
        return resolve(resource_type, text, error=InvalidFilter)
    except InvalidFilter:
        if text[:4].lower() == "urn:":
            raise
        for schema in resource_type.extensions:
            try:
                return resolve(resource_type, f"{schema.id}:{text}", error=InvalidFilter)
            except InvalidFilter:
                continue
        raise


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "nothing"
    if token.kind == "string":
        return json.dumps(token.text)
    return f"'{token.text}'"


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


def matches(value_filter: Filter, element: object) -> bool:
    """Tell whether one element of a multi-valued attribute matches a value filter.

    ``value_filter`` comes from ``PatchPath.value_filter``, ``ValuePath.inner`` or
    ``parse_value_filter``: its paths are relative to the element, so
    ``type eq "work"`` reads ``element["type"]``. For an attribute of simple values
    the element is the value itself. Strings compare case-insensitively unless the
    attribute is caseExact (RFC 7644 §3.4.2.2); ``"True"``/``"False"`` strings in
    boolean sub-attributes read as booleans, as Entra writes them.
    """
    return _evaluate(value_filter, lambda ref: _element_values(element, ref), None)


def matches_resource(filter: Filter, resource: Mapping[str, object]) -> bool:
    """Tell whether a resource matches a filter (RFC 7644 §3.4.2.2).

    ``resource`` is the full representation (``id``, ``meta``, ``groups`` or
    ``members`` included) or a stored document, in which those are absent. A
    comparison on a multi-valued attribute matches when any value does.
    """
    return _evaluate(filter, lambda ref: _resource_values(resource, ref), resource)


_Reader = Callable[[AttrRef], list[object]]
"""Return the values a path names, flattened over the elements of a multi-valued attribute."""


def _evaluate(node: Filter, read: _Reader, resource: Mapping[str, object] | None) -> bool:
    # And/Or chains are walked in a loop: a 4 KiB filter can hold hundreds of
    # terms, deeper than recursion should go. Everything else nests at most
    # MAX_DEPTH levels.
    if isinstance(node, And):
        return all(_evaluate(term, read, resource) for term in filter_terms(node))
    if isinstance(node, Or):
        return any(_evaluate(term, read, resource) for term in filter_terms(node))
    if isinstance(node, Not):
        return not _evaluate(node.inner, read, resource)
    if isinstance(node, Present):
        return any(_is_present(value) for value in read(node.path))
    if isinstance(node, Compare):
        if node.value is None:
            present = any(_is_present(value) for value in read(node.path))
            return present if node.op == "ne" else not present
        op = "eq" if node.op == "ne" else node.op
        found = any(compare_value(node.path.target, op, value, node.value) for value in read(node.path))
        return not found if node.op == "ne" else found
    if resource is None:
        return False  # a value path never nests in another (the parser refuses it)
    return any(matches(node.inner, element) for element in _elements(resource, node.path))


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


def _get(node: object, key: str) -> object:
    """Return ``node[key]``, matching the key case-insensitively when not canonical."""
    if not isinstance(node, Mapping):
        return None
    if key in node:
        return node[key]
    lowered = key.lower()
    return next((value for name, value in node.items() if name.lower() == lowered), None)


def _attribute_value(resource: Mapping[str, object], ref: AttrRef) -> object:
    node: object = resource
    for key in ref.with_sub(None).keys:
        node = _get(node, key)
    return node


def _elements(resource: Mapping[str, object], ref: AttrRef) -> list[object]:
    value = _attribute_value(resource, ref)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _resource_values(resource: Mapping[str, object], ref: AttrRef) -> list[object]:
    elements = _elements(resource, ref)
    if ref.sub is None:
        return elements
    return [value for value in (_get(e, ref.sub.name) for e in elements) if value is not None]


def _element_values(element: object, ref: AttrRef) -> list[object]:
    value = element if ref.sub is None else _get(element, ref.sub.name)
    return [] if value is None else [value]


def _is_present(value: object) -> bool:
    """Apply ``pr``: not null, not an empty string, not an empty list or object (RFC 7644 §3.4.2.2)."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        return any(_is_present(item) for item in value)
    if isinstance(value, dict):
        return any(_is_present(item) for item in value.values())
    return value is not None


def compare_value(attribute: Attribute, op: str, actual: object, expected: Literal) -> bool:
    """Tell whether ``actual op expected`` holds for a value of ``attribute`` (any op but ``ne``).

    Strings compare lower-cased unless the attribute is caseExact, dateTimes by
    instant, numbers by value; values of the wrong type never match.
    """
    kind = attribute.type
    if kind == "boolean":
        if isinstance(actual, str) and actual.lower() in ("true", "false"):
            actual = actual.lower() == "true"
        return isinstance(actual, bool) and actual == expected
    if kind == "dateTime":
        if not isinstance(actual, str) or not isinstance(expected, datetime):
            return False
        instant = parse_datetime(actual)
        return instant is not None and _order(op, instant, expected)
    if kind in ("integer", "decimal"):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return _order(op, actual, expected)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    if not attribute.case_exact:
        actual, expected = actual.lower(), expected.lower()
    if op == "co":
        return expected in actual
    if op == "sw":
        return actual.startswith(expected)
    if op == "ew":
        return actual.endswith(expected)
    return _order(op, actual, expected)


def _order(op: str, actual: object, expected: object) -> bool:
    try:
        if op == "eq":
            return bool(actual == expected)
        if op == "gt":
            return bool(actual > expected)  # type: ignore[operator]
        if op == "ge":
            return bool(actual >= expected)  # type: ignore[operator]
        if op == "lt":
            return bool(actual < expected)  # type: ignore[operator]
        if op == "le":
            return bool(actual <= expected)  # type: ignore[operator]
    except TypeError:
        return False
    return False
