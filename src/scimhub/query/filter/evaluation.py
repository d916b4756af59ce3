"""The filter evaluator: whether a resource, or one element of it, matches a filter tree.

PATCH uses it to pick elements through value paths (``emails[type eq "work"]``);
the SQL compiler shares ``compare_value`` to fold comparisons it can decide alone.
the semantics are those of ``tree.py``'s docstring, identical to the SQL's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from scimhub.domain.text import lower_each
from scimhub.query.filter.tree import (
    And,
    Compare,
    Filter,
    Literal,
    Not,
    Or,
    Present,
    filter_terms,
    parse_datetime,
)
from scimhub.query.paths import AttrRef
from scimhub.query.schema import Attribute


def matches(value_filter: Filter, element: object) -> bool:
    """Tell whether one element of a multi-valued attribute matches a value filter.

    To test many elements against one filter, build ``element_matcher`` once.

    ``value_filter`` comes from ``PatchPath.value_filter``, ``ValuePath.inner`` or
    ``parse_value_filter``: its paths are relative to the element, so
    ``type eq "work"`` reads ``element["type"]``. For an attribute of simple values
    the element is the value itself. Strings compare case-insensitively unless the
    attribute is caseExact (RFC 7644 §3.4.2.2), folded a character at a time as SQL's
    ``lower()`` folds them (``lower_each``); ``"True"``/``"False"`` strings in boolean
    sub-attributes read as booleans, as Entra writes them.
    """
    return element_matcher(value_filter)(element)


ElementMatcher = Callable[[object], bool]


def element_matcher(value_filter: Filter) -> ElementMatcher:
    """Return a test of one element against ``value_filter``, as ``matches`` reads it.

    The filter is walked once, here, not once per element: a PATCH applies one
    filter to every element of an attribute (ADR 0025). ``eq`` terms of a chain of
    ``or`` that compare one string attribute become a single set lookup, so
    ``value eq "a" or value eq "b" or …`` costs one comparison whatever its length.
    """
    node = value_filter
    if isinstance(node, Or):
        return _any_of(_folded(filter_terms(node)))
    if isinstance(node, And):
        tests = [element_matcher(term) for term in filter_terms(node)]
        return lambda element: all(test(element) for test in tests)
    if isinstance(node, Not):
        inner = element_matcher(node.inner)
        return lambda element: not inner(element)
    if isinstance(node, Compare) and node.op != "ne" and node.value is not None:
        if node.op == "eq" and isinstance(node.value, str) and _is_text(node.path):
            return _one_of(node.path, {node.value if node.path.target.case_exact else lower_each(node.value)})
        path, attribute, op, expected = node.path, node.path.target, node.op, node.value
        return lambda element: any(
            compare_value(attribute, op, actual, expected) for actual in _element_values(element, path)
        )
    if isinstance(node, (Present, Compare)):
        return lambda element: _evaluate(node, lambda ref: _element_values(element, ref), None)
    return lambda element: False  # a value path never nests in another (the parser refuses it)


def _any_of(tests: list[ElementMatcher]) -> ElementMatcher:
    if len(tests) == 1:
        return tests[0]
    return lambda element: any(test(element) for test in tests)


def _folded(terms: list[Filter]) -> list[ElementMatcher]:
    """Return tests for the terms of an ``or`` chain, its string ``eq`` terms grouped by attribute."""
    wanted: dict[AttrRef, set[str]] = {}
    tests: list[ElementMatcher] = []
    for term in terms:
        if (
            isinstance(term, Compare)
            and term.op == "eq"
            and isinstance(term.value, str)
            and _is_text(term.path)
        ):
            folded = term.value if term.path.target.case_exact else lower_each(term.value)
            wanted.setdefault(term.path, set()).add(folded)
        else:
            tests.append(element_matcher(term))
    return [_one_of(path, values) for path, values in wanted.items()] + tests


def _is_text(path: AttrRef) -> bool:
    """Tell whether ``compare_value`` compares values of ``path`` as strings."""
    return path.target.type not in ("boolean", "dateTime", "integer", "decimal")


def _one_of(path: AttrRef, values: set[str]) -> ElementMatcher:
    """Return the test ``path eq v1 or path eq v2 …`` as one set lookup (what ``compare_value`` decides)."""
    exact = path.target.case_exact

    def test(element: object) -> bool:
        return any(
            isinstance(actual, str) and (actual if exact else lower_each(actual)) in values
            for actual in _element_values(element, path)
        )

    return test


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

    Strings compare lower-cased a character at a time (``lower_each``, as the database does)
    unless the attribute is caseExact, dateTimes by instant, numbers by value; values of the
    wrong type never match.
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
        actual, expected = lower_each(actual), lower_each(expected)
    if op == "co":
        return expected in actual
    if op == "sw":
        return actual.startswith(expected)
    if op == "ew":
        return actual.endswith(expected)
    return _order(op, actual, expected)


def _order(op: str, actual: Any, expected: Any) -> bool:
    # Any, not object: the values' types are known only here, at run time, and a pair that does
    # not order (a string and a number) raises TypeError, which means "no match".
    try:
        if op == "eq":
            return bool(actual == expected)
        if op == "gt":
            return bool(actual > expected)
        if op == "ge":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        if op == "le":
            return bool(actual <= expected)
    except TypeError:
        return False
    return False
