"""The filter parser: RFC 7644 §3.4.2.2 text → the tree of ``tree.py``.

A recursive-descent parser over the tokens of ``tokens.py``. It resolves every attribute
against the schema and types every literal against its attribute, so whatever it
returns is valid for the SQL compiler and the evaluator alike. Limits (length,
nesting, terms: ADR 0025) turn abuse into ``invalidFilter`` (``invalidPath`` in a
PATCH path), never a ``RecursionError`` or seconds of work.
"""

from __future__ import annotations

import json
from typing import NoReturn

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidFilter, InvalidInput, InvalidPath
from scimhub.query.filter.tokens import NUMBER, Token, tokenize
from scimhub.query.filter.tree import (
    COMPARE_OPS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    ORDER_OPS,
    SUBSTRING_OPS,
    And,
    Compare,
    Filter,
    Literal,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_datetime,
)
from scimhub.query.paths import AttrRef, resolve
from scimhub.query.schema import Attribute, ResourceType


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


class _Parser:
    """Recursive descent over the RFC 7644 §3.4.2.2 grammar; precedence not > and > or."""

    def __init__(self, resource_type: ResourceType, text: str, error: type[InvalidInput], what: str) -> None:
        if len(text) > MAX_LENGTH:
            raise error(f"the {what} is longer than {MAX_LENGTH} characters")
        check_no_nul(text, f"the {what}", error)  # ADR 0021: no literal may carry one to the database
        self.resource_type = resource_type
        self.error = error
        self.what = what
        self.tokens = tokenize(text, error, what)
        self.index = 0
        self.depth = 0
        self.terms = 0
        if self.tokens[0].kind == "end":
            raise error(f"the {what} is empty")

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, token: Token, message: str) -> NoReturn:
        raise self.error(f"{message} {self.where(token)}")

    def where(self, token: Token) -> str:
        if token.kind == "end":
            return f"at the end of the {self.what}"
        return f"at position {token.pos + 1} of the {self.what}"

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            self.fail(token, f"unexpected {_describe(token)}")

    def enter(self, token: Token) -> None:
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

    def bracketed(self, ref: AttrRef, bracket: Token) -> Filter:
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

    def resolve_path(self, token: Token, scope: AttrRef | None) -> AttrRef:
        """Resolve an attribute path, relative to ``scope`` inside a value path."""
        if token.text.endswith(".") or ".." in token.text:
            self.fail(token, f"'{token.text}' is not an attribute path")
        if scope is None:
            try:
                return _resolve(self.resource_type, token.text)
            except InvalidInput as error:
                raise self.error(f"{error.detail} {self.where(token)}") from None
        attribute = scope.attribute
        if not attribute.is_complex and token.text.lower() == "value":
            return scope.with_sub(None)
        sub = attribute.sub(token.text) if "." not in token.text else None
        if sub is None:
            self.fail(token, f"'{token.text}' is not a sub-attribute of '{scope}'")
        return scope.with_sub(sub)

    def check_filterable(self, ref: AttrRef, token: Token) -> None:
        # The password is kept only as a hash: nothing can compare it, and saying
        # whether one is set would leak what RFC 7643 §4.1.1 never returns.
        if self.error is InvalidFilter and "never" in (ref.attribute.returned, ref.target.returned):
            self.fail(token, f"'{ref}' cannot be filtered")

    def condition(self, ref: AttrRef, path_token: Token) -> Filter:
        """Parse ``pr`` or ``compareOp compValue`` after the attribute path ``ref``."""
        self.terms += 1
        if self.terms > MAX_TERMS:
            self.fail(path_token, f"more than {MAX_TERMS} comparisons in one {self.what}")
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
            if token.kind == "word" and NUMBER.fullmatch(token.text):
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


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "nothing"
    if token.kind == "string":
        return json.dumps(token.text)
    return f"'{token.text}'"
