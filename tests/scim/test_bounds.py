"""The bounds on the work one request may cause (ADR 0025): PATCH values and work, attribute lists, sortBy.

The filter bounds (length, depth, terms) are tested with the parser in test_filters.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimhub.errors import InvalidValue, TooMany
from scimhub.query.filter.evaluation import element_matcher, matches_resource
from scimhub.query.filter.parser import parse_filter, parse_value_filter
from scimhub.query.filter.tree import MAX_LENGTH, MAX_TERMS
from scimhub.query.paths import resolve
from scimhub.query.schema import GROUP, PATCH_OP, USER
from scimhub.scim.attribute_lists import MAX_NAMES, MAX_NAMES_LENGTH
from scimhub.scim.bounds import MAX_VALUES, check_resource_values
from scimhub.scim.patch import LITERAL_PER_COMPARISON, MAX_WORK, TEXT_PER_VISIT, apply_patch, read_patch
from scimhub.scim.projection import Projection
from scimhub.scim.search import SearchParams, build_query


def _body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _emails(count: int) -> list[dict[str, str]]:
    return [{"value": f"u{i}@example.com", "type": "work"} for i in range(count)]


# -- values per PATCH -------------------------------------------------------------------


def test_values_across_operations_are_bounded() -> None:
    """MAX_VALUES values in all operations together are read; one more is invalidValue naming the bound."""
    half = MAX_VALUES // 2
    members = [{"value": f"m{i}"} for i in range(half)]
    body = _body(
        {"op": "add", "path": "members", "value": members}, {"op": "add", "path": "members", "value": members}
    )
    assert len(read_patch(GROUP, body)) == 2
    body["Operations"].append({"op": "replace", "path": "displayName", "value": "x"})
    with pytest.raises(InvalidValue, match=f"operations carry {MAX_VALUES + 1} values; at most {MAX_VALUES}"):
        read_patch(GROUP, body)


def test_path_less_values_count_their_attributes() -> None:
    """A path-less value counts each attribute, and each element of an array, against MAX_VALUES."""
    value = {"emails": _emails(MAX_VALUES - 1), "title": "x", "nickName": "y"}
    with pytest.raises(InvalidValue, match=f"carry {MAX_VALUES + 1} values"):
        read_patch(USER, _body({"op": "add", "value": value}))


def test_resource_bodies_are_bounded_in_values() -> None:
    """A POST or PUT body's multi-valued attributes hold at most MAX_VALUES values, members aside."""
    check_resource_values({"userName": "u", "emails": _emails(MAX_VALUES)})
    check_resource_values(
        {"displayName": "g", "members": [{"value": f"m{i}"} for i in range(MAX_VALUES + 1)]}
    )
    extension = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = {"userName": "u", "emails": _emails(MAX_VALUES), extension: {"x": ["one"]}}
    with pytest.raises(InvalidValue, match=f"resource carry {MAX_VALUES + 1} values; at most {MAX_VALUES}"):
        check_resource_values(body)


def test_absent_attribute_costs_only_the_values_sent() -> None:
    """Writing MAX_WORK values into an attribute not yet assigned is within the work bound."""
    doc = {"userName": "u"}
    operation = {"op": "add", "path": "emails", "value": _emails(MAX_VALUES)}
    assert (
        len(apply_patch(USER, doc, read_patch(USER, _body(operation)), max_work=MAX_VALUES).doc["emails"])
        == MAX_VALUES
    )


# -- work per PATCH ---------------------------------------------------------------------


def _filter_of(terms: int) -> str:
    return " or ".join(f'value co "zz{i}"' for i in range(terms - 1)) + ' or type eq "work"'


def test_work_of_a_filter_is_stored_values_times_comparisons() -> None:
    """A filtered operation costs (stored + sent values) × comparisons; above MAX_WORK it is tooMany."""
    stored = MAX_WORK // MAX_TERMS - 1
    operation = {"op": "replace", "path": f"emails[{_filter_of(MAX_TERMS)}].display", "value": "D"}
    doc = {"userName": "u", "emails": _emails(stored)}
    result = apply_patch(USER, doc, read_patch(USER, _body(operation)))
    assert {email["display"] for email in result.doc["emails"]} == {"D"}
    doc["emails"].append({"value": "one-more@example.com", "type": "work"})
    with pytest.raises(TooMany, match=f"more than {MAX_WORK} attribute values"):
        apply_patch(USER, doc, read_patch(USER, _body(operation)))


def test_work_adds_up_across_operations() -> None:
    """Many cheap operations add up: the operation that passes MAX_WORK is named."""
    stored = 199
    doc = {"userName": "u", "emails": _emails(stored)}
    operation = {"op": "replace", "path": 'emails[type eq "work"].display', "value": "D"}
    count = MAX_WORK // (stored + 1)
    apply_patch(USER, doc, read_patch(USER, _body(*[operation] * count)))
    with pytest.raises(TooMany, match=rf"^Operations\[{count}\]: applying this PATCH"):
        apply_patch(USER, doc, read_patch(USER, _body(*[operation] * (count + 1))))


def test_long_stored_text_is_more_work() -> None:
    """A stored element counts one visit more per TEXT_PER_VISIT characters, which a filter folds.

    Session 41: 620 value filters over 15 emails of 65,000 characters took 1.3 s of one worker
    when each element counted once; counted by their text, such a PATCH is refused at once.
    """
    display = "a" * (64 * TEXT_PER_VISIT - 1) + "é"  # 64 visits more than a short email
    doc = {"userName": "u", "emails": [{"value": f"e{i}@x.example", "display": display} for i in range(15)]}
    operation = {"op": "remove", "path": 'emails[display eq "aé"]'}
    per_operation = 15 * (1 + 64)
    count = MAX_WORK // per_operation
    apply_patch(USER, doc, read_patch(USER, _body(*[operation] * count)))
    with pytest.raises(TooMany, match=rf"^Operations\[{count}\]: applying this PATCH"):
        apply_patch(USER, doc, read_patch(USER, _body(*[operation] * (count + 1))))


def test_a_long_value_to_compare_is_more_work() -> None:
    """A comparison counts one more per LITERAL_PER_COMPARISON characters of its value.

    Session 41: ``co`` of 1,015 characters over 999 emails of 2,030 took 1.4 s when each
    comparison counted once (CPython searches text under 2,500 characters in time proportional to
    both lengths); such a PATCH is now refused before its first operation runs.
    """
    needle = "a" * (8 * LITERAL_PER_COMPARISON - 1) + "b"  # 8 comparisons more than a short value
    doc = {
        "userName": "u",
        "emails": [{"value": f"e{i}@x.example", "display": "a" * 1000} for i in range(100)],
    }
    operation = {"op": "remove", "path": f'emails[display co "{needle}"]'}
    count = MAX_WORK // (100 * (1 + 8))
    apply_patch(USER, doc, read_patch(USER, _body(*[operation] * count)))
    with pytest.raises(TooMany, match=rf"^Operations\[{count}\]: applying this PATCH"):
        apply_patch(USER, doc, read_patch(USER, _body(*[operation] * (count + 1))))


def test_a_patch_leaves_no_more_values_than_a_put_may_send() -> None:
    """PATCHes of MAX_VALUES each could pile up 10,000 emails, 60,000 in six attributes (session 41)."""
    doc = {"userName": "u", "emails": _emails(MAX_VALUES)}
    more = {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 0100"}]}
    with pytest.raises(InvalidValue, match=f"carry {MAX_VALUES + 1} values; at most {MAX_VALUES}"):
        apply_patch(USER, doc, read_patch(USER, _body(more)))


def test_a_patch_leaves_no_larger_a_document_than_a_put_may_send() -> None:
    """One value written into every element multiplies it: the result is bounded as a body is.

    Session 41: ``replace emails.display`` with 65,000 characters over 999 emails made a 65 KB
    PATCH a 65 MB document; five such operations a 325 MB one, a 500 from PostgreSQL's jsonb.
    """
    doc = {"userName": "u", "emails": _emails(999)}
    operation = {"op": "replace", "path": "emails.display", "value": "a" * 65_000}
    with pytest.raises(
        InvalidValue, match=r"would be \d+ bytes of JSON after this PATCH; .* at most 1048576"
    ):
        apply_patch(USER, doc, read_patch(USER, _body(operation)))
    small = {"op": "replace", "path": "emails.display", "value": "a" * 1_000}
    assert apply_patch(USER, doc, read_patch(USER, _body(small)), max_bytes=2_000_000).doc["emails"][0][
        "display"
    ]


def test_adding_many_values_to_many_is_linear() -> None:
    """Adding values already there (in any case) adds none of them, however many: no pairwise comparison."""
    doc = {"userName": "u", "emails": _emails(MAX_VALUES)}
    again = [{"value": f"U{i}@EXAMPLE.COM", "type": "work"} for i in range(MAX_VALUES)]
    result = apply_patch(USER, doc, read_patch(USER, _body({"op": "add", "path": "emails", "value": again})))
    assert result.doc["emails"] == doc["emails"]


def test_member_values_are_not_work() -> None:
    """Members are rows, never visited by the PATCH: MAX_VALUES member ids stay within MAX_WORK."""
    members = [{"value": f"m{i}"} for i in range(MAX_VALUES)]
    result = apply_patch(
        GROUP,
        {"displayName": "g"},
        read_patch(GROUP, _body({"op": "add", "path": "members", "value": members})),
    )
    assert result.members is not None and len(result.members.add) == MAX_VALUES


# -- the compiled element test ----------------------------------------------------------

EMAILS = resolve(USER, "emails")
_WORDS = st.sampled_from(["a", "A", "b", "work", "WORK", "home", "x@y", "True"])
_TERMS = st.one_of(
    st.builds(
        lambda sub, op, word: f'{sub} {op} "{word}"',
        st.sampled_from(["value", "type", "display"]),
        st.sampled_from(["eq", "ne", "co", "sw"]),
        _WORDS,
    ),
    st.builds(lambda word: f'primary eq "{word}"', st.sampled_from(["true", "False"])),
    st.sampled_from(["value pr", "type pr"]),
)


@st.composite
def _value_filters(draw: st.DrawFn) -> str:
    """Draw a value filter of or/and chains, with ``not`` and parentheses."""
    terms = draw(st.lists(_TERMS, min_size=1, max_size=6))
    text = terms[0]
    for term in terms[1:]:
        joined = f"{text} {draw(st.sampled_from(['or', 'and']))} {term}"
        text = f"not ({joined})" if draw(st.booleans()) and len(text) < 200 else joined
    return text


_ELEMENTS = st.fixed_dictionaries(
    {}, optional={"value": _WORDS, "type": _WORDS, "display": _WORDS, "primary": st.booleans() | _WORDS}
)


@settings(max_examples=300, deadline=None)
@given(_value_filters(), _ELEMENTS)
def test_compiled_matcher_agrees_with_the_tree_walk(text: str, element: dict[str, Any]) -> None:
    """``element_matcher`` (an or-chain's equalities folded into a set) decides as the tree walk does.

    The tree walk is ``matches_resource`` on a user whose only email is ``element``, with each term
    written as ``emails.<sub>``: over one element, "any email matches" is "this element matches".
    """
    node = parse_value_filter(USER, EMAILS, text)
    walked = parse_filter(
        USER, re.sub(r"\b(value|type|display|primary) (?=eq|ne|co|sw|pr)", r"emails.\1 ", text)
    )
    assert element_matcher(node)(element) == matches_resource(walked, {"emails": [element]})


# -- attribute lists and sortBy ---------------------------------------------------------


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
def test_attribute_lists_are_bounded_in_names(parameter: str) -> None:
    """MAX_NAMES names are read; one more is invalidValue naming the bound."""
    names = ["title"] * MAX_NAMES
    kwargs = {"attributes": None, "excluded_attributes": None}
    key = "attributes" if parameter == "attributes" else "excluded_attributes"
    Projection.read(USER, **{**kwargs, key: ",".join(names)})
    with pytest.raises(InvalidValue, match=f"{parameter} names more than {MAX_NAMES} attributes"):
        Projection.read(USER, **{**kwargs, key: ",".join([*names, "title"])})
    with pytest.raises(InvalidValue, match=f"{parameter} names more than {MAX_NAMES} attributes"):
        Projection.read(USER, **{**kwargs, key: [*names, "title"]})


def test_attribute_lists_are_bounded_in_length() -> None:
    """An attributes text longer than MAX_NAMES_LENGTH characters is refused before it is read or kept."""
    with pytest.raises(InvalidValue, match=f"attributes is longer than {MAX_NAMES_LENGTH} characters"):
        Projection.read(USER, "x" * (MAX_NAMES_LENGTH + 1))


def test_sort_by_is_bounded_in_length() -> None:
    """A sortBy longer than a filter may be is invalidValue."""
    with pytest.raises(InvalidValue, match=f"sortBy is longer than {MAX_LENGTH} characters"):
        build_query(USER, SearchParams(sort_by="a" * (MAX_LENGTH + 1)), 100, 1000)
