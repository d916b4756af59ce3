"""Filters planned once per shape (ADR 0053): one plan per shape, each filter answered with its own values.

The fixtures are those of tests/store/test_sql_filters.py (four users, three groups), stored on
SQLite and PostgreSQL. Filters of one shape share their clause; each still selects exactly the
rows the Python evaluator matches for its own values, and exactly what a plan made from that
filter alone selects (the property test, over random filters of the User schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from scimhub.errors import InvalidFilter, InvalidInput
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query
from scimhub.query.paths import resolve
from scimhub.query.schema import ENTERPRISE_USER, GROUP, USER, ResourceType
from scimhub.store.sql.filters import SHORT_SUBSTRING, plan_filter, text_shape
from scimhub.store.sql.searches import search_rows
from scimhub.store.sql.shapes import compile_filter, shape_of
from scimhub.store.sql.tables import groups, users
from tests.databases import migrated_engine
from tests.store.test_sql_filters import TEST_USER, _evaluated, _insert


@pytest.fixture(scope="module")
def engine(module_database_url: str) -> Iterator[Engine]:
    with migrated_engine(module_database_url) as created:
        _insert(created)
        yield created


def _table(resource_type: ResourceType) -> Any:
    return users if resource_type.name == "User" else groups


def _ids(engine: Engine, resource_type: ResourceType, filter_text: str) -> set[str]:
    """Return the ids the kept plan of the filter's shape selects with the filter's values."""
    filtered = compile_filter(resource_type, parse_filter(resource_type, filter_text))
    statement = select(_table(resource_type).c.id).where(filtered.clause)
    with engine.connect() as connection:
        return set(connection.execute(statement, filtered.values).scalars())


def _ids_planned_alone(engine: Engine, resource_type: ResourceType, filter_text: str) -> set[str]:
    """Return the ids a plan made from this filter alone selects: the compiler without the kept plans."""
    parsed = parse_filter(resource_type, filter_text)
    compares = shape_of(resource_type, parsed)[1]
    plan = plan_filter(resource_type, parsed, compares)
    statement = select(_table(resource_type).c.id).where(plan.clause)
    with engine.connect() as connection:
        return set(connection.execute(statement, plan.values([c.value for c in compares])).scalars())


EXT = ENTERPRISE_USER
SAME_SHAPE = [
    # (resource type, [(filter, expected ids), …]): each list is one shape, every answer distinct
    (USER, [('userName eq "BJENSEN"', {"u1"}), ('userName eq "jsmith"', {"u2"}), ('userName eq "x"', set())]),
    (USER, [('externalId co "ext"', {"u1"}), ('externalId co "EXT"', set()), ('externalId co "s"', {"u2"})]),
    (USER, [('title co "%_o"', {"u3"}), ('title co "GUIDE"', {"u1"})]),
    (USER, [('title sw "100%"', {"u3"}), ('title sw "tour"', {"u1"})]),
    (USER, [('displayName gt "c"', {"u2"}), ('displayName gt "a"', {"u1", "u2"})]),
    (USER, [('name.familyName lt "k"', {"u1"}), ('name.familyName lt "p"', {"u1", "u3"})]),
    (USER, [("active eq true", {"u1"}), ("active eq false", {"u2"})]),
    (USER, [("active ne true", {"u2", "u3", "u4"}), ("active ne false", {"u1", "u3", "u4"})]),
    (
        USER,
        [
            ('meta.created gt "2011-05-13T04:42:34Z"', {"u2", "u3", "u4"}),
            ('meta.created gt "2011-05-13T04:42:36Z"', {"u4"}),
        ],
    ),
    (
        USER,
        [
            ("meta.lastModified le 2011-05-13T04:42:34.0005Z", {"u1"}),
            ("meta.lastModified le 2011-05-13T04:42:35.0005Z", {"u1", "u2"}),
        ],
    ),
    (
        USER,
        [
            ('meta.version eq "W/\\"3\\""', {"u1"}),
            ('meta.version eq "W/\\"1\\""', {"u2", "u3", "u4"}),
            ('meta.version eq "3"', set()),
        ],
    ),
    (
        USER,
        [
            ('meta.version ne "W/\\"3\\""', {"u2", "u3", "u4"}),
            ('meta.version ne "x"', {"u1", "u2", "u3", "u4"}),
        ],
    ),
    (
        USER,
        [('meta.resourceType eq "User"', {"u1", "u2", "u3", "u4"}), ('meta.resourceType eq "user"', set())],
    ),
    (
        USER,
        [
            ('not (meta.resourceType sw "Gr")', {"u1", "u2", "u3", "u4"}),
            ('not (meta.resourceType sw "Us")', set()),
        ],
    ),
    (
        USER,
        [
            ('emails[type eq "work"].value eq "JS@WORK.EXAMPLE"', {"u2"}),
            ('emails[type eq "home"].value eq "babs@jensen.org"', {"u1"}),
        ],
    ),
    (
        USER,
        [
            ('emails[type eq "work" and primary eq true]', {"u1", "u2"}),
            ('emails[type eq "home" and primary eq true]', set()),
        ],
    ),
    (
        USER,
        [
            ('roles[value eq "reader" and not (primary eq true)]', {"u1"}),
            ('roles[value eq "editor" and not (primary eq true)]', set()),
        ],
    ),
    (USER, [('groups.display eq "admins"', {"u1", "u2"}), ('groups.display eq "READERS"', {"u3"})]),
    (USER, [('title pr and userType eq "Employee"', {"u1"}), ('title pr and userType eq "intern"', {"u3"})]),
    (
        USER,
        [
            ('userName eq "zed" or emails co "jensen"', {"u1", "u4"}),
            ('userName eq "omalley" or emails co "home"', {"u2", "u3"}),
        ],
    ),
    (USER, [(f'{EXT}:employeeNumber eq "701984"', {"u1"}), (f'{EXT}:employeeNumber eq "2"', {"u2"})]),
    (USER, [('manager[value eq "U2"]', {"u1"}), ('manager[value eq "u1"]', set())]),
    (TEST_USER, [("score gt 0", {"u1"}), ("score gt -5", {"u1", "u2"}), ("score gt 7", set())]),
    (TEST_USER, [("ratio gt 1", {"u2"}), ("ratio gt 0", {"u1", "u2"}), ("ratio gt 3", set())]),
    (TEST_USER, [("ratio ge 0.5", {"u1", "u2"}), ("ratio ge 1.5", {"u2"})]),
    (TEST_USER, [('code sw "A"', {"u1"}), ('code sw "a"', {"u2"})]),
    (TEST_USER, [('code ew "bC"', {"u1"}), ('code ew "bc"', {"u2"})]),
    (TEST_USER, [('tags[value sw "GR"]', {"u2"}), ('tags[value sw "r"]', {"u1"})]),
    (
        GROUP,
        [
            ('members[type eq "User" and display eq "babs"]', {"g1"}),
            ('members[type eq "User" and display eq "ryan"]', {"g2"}),
        ],
    ),
    (GROUP, [('displayName eq "ADMINS"', {"g1"}), ('displayName eq "empty"', {"g3"})]),
]


@pytest.mark.parametrize(("resource_type", "cases"), SAME_SHAPE)
def test_one_shape_one_plan_each_its_own_answer(
    engine: Engine, resource_type: ResourceType, cases: list[tuple[str, set[str]]]
) -> None:
    """Filters that differ only in values share one clause, and each selects exactly what it matches."""
    clauses = {
        id(compile_filter(resource_type, parse_filter(resource_type, text)).clause) for text, _ in cases
    }
    assert len(clauses) == 1
    for text, expected in cases:
        assert _evaluated(resource_type, text) == expected, text
        assert _ids(engine, resource_type, text) == expected, text
        assert _ids_planned_alone(engine, resource_type, text) == expected, text


DIFFERENT_SHAPES = [
    (USER, ['userName eq "a"', 'userName co "a"', 'userName ne "a"', "userName pr", "userName eq null"]),
    (USER, ['userName eq "a"', 'displayName eq "a"', 'emails.value eq "a"', 'emails[value eq "a"]']),
    (USER, ['externalId co "a"', 'externalId co ""']),
    (USER, ['title eq "a" and title eq "b"', 'title eq "a" or title eq "b"', 'not (title eq "a")']),
    (USER, ["title pr and (userType pr or nickName pr)", "(title pr and userType pr) or nickName pr"]),
    (USER, ["title pr and userType pr and nickName pr", "title pr and userType pr"]),
    (TEST_USER, ["ratio gt 1", "ratio lt 1", "score gt 1"]),
]


@pytest.mark.parametrize(("resource_type", "texts"), DIFFERENT_SHAPES)
def test_different_shapes_have_different_plans(resource_type: ResourceType, texts: list[str]) -> None:
    """An operator, a path, a structure, a value's type or an empty string each make a shape of their own."""
    planned = [compile_filter(resource_type, parse_filter(resource_type, text)) for text in texts]
    assert len({filtered.shape for filtered in planned}) == len(texts)
    assert len({id(filtered.clause) for filtered in planned}) == len(texts)


def test_resource_types_do_not_share_plans() -> None:
    """The same text on another resource type (another table, other attributes) is another shape."""
    on_user = compile_filter(USER, parse_filter(USER, 'externalId eq "a"'))
    on_group = compile_filter(GROUP, parse_filter(GROUP, 'externalId eq "a"'))
    assert on_user.clause is not on_group.clause
    assert "users" in str(on_user.clause) and "groups" in str(on_group.clause)


@pytest.mark.parametrize(
    ("filter_text", "values"),
    [
        ('userName eq "BJensen"', ["bjensen"]),
        ('externalId eq "BJ-ext"', ["BJ-ext"]),
        ('title co "100%_/"', ["%100/%/_//%"]),
        (f'title co "{"100%_/" * 6}"', ["100%_/" * 6]),  # past SHORT_SUBSTRING: a position, not a pattern
        ('userName sw "A_"', ["a/_%"]),
        ('meta.created ge "2011-05-13T06:42:34+02:00"', [1_305_261_754_000_000]),
        ('meta.version eq "W/\\"12\\""', [12]),
        ('meta.version eq "12"', [None]),
        ('meta.resourceType eq "User"', [True]),
        ('meta.resourceType eq "Group"', [False]),
        ("active eq false", [False]),
    ],
)
def test_values_are_converted_for_each_request(filter_text: str, values: list[Any]) -> None:
    """Folding, a prefix's LIKE escapes, microseconds, ETag counters and constants apply per filter."""
    assert list(compile_filter(USER, parse_filter(USER, filter_text)).values.values()) == values


def test_a_failing_plan_is_not_kept_and_fails_again() -> None:
    """A filter the store cannot search raises each time, not only when its shape is first planned."""
    for _ in range(2):
        with pytest.raises(InvalidFilter, match="'meta.version' takes only eq, ne and pr"):
            compile_filter(USER, parse_filter(USER, 'meta.version gt "W/\\"1\\""'))


@pytest.mark.parametrize(
    ("filter_text", "offset", "limit", "total", "expected"),
    [
        ('userName eq "bjensen"', 0, 100, 1, ["u1"]),
        ('userName eq "JSmith"', 0, 100, 1, ["u2"]),
        ('userName eq "nobody"', 0, 100, 0, []),
        ('userType eq "Employee"', 0, 1, 2, ["u1"]),
        ('userType eq "Employee"', 1, 1, 2, ["u2"]),
        ('userType eq "Intern"', 0, 1, 1, ["u3"]),
        ('userType eq "Intern"', 0, 0, 1, []),
        ('title co "o"', 0, 100, 2, ["u1", "u3"]),
    ],
)
def test_search_rows_pages_with_kept_statements(
    engine: Engine, filter_text: str, offset: int, limit: int, total: int, expected: list[str]
) -> None:
    """A search's page and count statements, kept per shape, take each request's values and bounds."""
    query = Query(parse_filter(USER, filter_text), resolve(USER, "userName"), offset=offset, limit=limit)
    with engine.connect() as connection:
        count, rows = search_rows(connection, users, USER, query)
    assert (count, [row.id for row in rows]) == (total, expected)


# Random filters over the User schema, drawn as a skeleton whose values are drawn twice: two
# filters that share a shape (or differ only in a value's type or emptiness).

WORDS = ["bjensen", "BJENSEN", "j", "Jensen", "guide", "EXAMPLE.COM", "%", "_", "/", "100%", "", "o'malley"]
WORDS += ["work", "Work", "home", "admin", "g1", "Admins", "555", "Tour", "Employee", "js", "u2", "a"]
STRINGS = [
    "userName",
    "displayName",
    "title",
    "nickName",
    "externalId",
    "userType",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "roles.value",
    "groups.value",
    "groups.display",
    "phoneNumbers.value",
    "addresses.locality",
    "manager.value",
    f"{EXT}:employeeNumber",
    f"{EXT}:department",
    "id",
    "meta.resourceType",
]
INSTANTS = [
    '"2011-05-13T04:42:34Z"',
    "2011-05-13T04:42:35.0005Z",
    '"2011-05-13T06:42:36+02:00"',
    '"2020-01-01T00:00:00Z"',
]
VERSIONS = ['"W/\\"1\\""', '"W/\\"3\\""', '"3"', '"W/\\"x\\""']
STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
ELEMENTS = {
    "emails": (["value", "type", "display"], ["primary"]),
    "roles": (["value"], ["primary"]),
    "addresses": (["locality", "type"], ["primary"]),
    "groups": (["value", "display"], []),
}


def _quoted(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def _leaf(draw: st.DrawFn, strings: list[str], booleans: list[str], top: bool) -> tuple[str, list[str]]:
    """Return a comparison with a ``{}`` for its value and the values it may take, or one without values."""
    kind = draw(
        st.sampled_from(["string", "string", "string", "boolean", "present", "null", "time", "version"])
    )
    if kind == "boolean" and booleans:
        return f"{draw(st.sampled_from(booleans))} {draw(st.sampled_from(['eq', 'ne']))} {{}}", [
            "true",
            "false",
        ]
    if kind == "present":
        return f"{draw(st.sampled_from(strings + booleans))} pr", []
    if kind == "null":
        return f"{draw(st.sampled_from(strings))} {draw(st.sampled_from(['eq', 'ne']))} null", []
    if kind == "time" and top:
        path = draw(st.sampled_from(["meta.created", "meta.lastModified"]))
        return f"{path} {draw(st.sampled_from(['eq', 'ne', 'gt', 'ge', 'lt', 'le']))} {{}}", INSTANTS
    if kind == "version" and top:
        return f"meta.version {draw(st.sampled_from(['eq', 'ne']))} {{}}", VERSIONS
    return f"{draw(st.sampled_from(strings))} {draw(st.sampled_from(STRING_OPS))} {{}}", [
        _quoted(w) for w in WORDS
    ]


def _combined(children: st.SearchStrategy[tuple[str, list[list[str]]]]) -> st.SearchStrategy[Any]:
    def joined(pair: tuple[Any, str, Any]) -> tuple[str, list[list[str]]]:
        (left, left_pools), word, (right, right_pools) = pair
        return f"{left} {word} {right}", left_pools + right_pools

    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(joined),
        children.map(lambda child: (f"not ({child[0]})", child[1])),
        children.map(lambda child: (f"({child[0]})", child[1])),
    )


def _single(leaf: st.SearchStrategy[tuple[str, list[str]]]) -> st.SearchStrategy[tuple[str, list[list[str]]]]:
    return leaf.map(lambda found: (found[0], [found[1]] if found[1] else []))


@st.composite
def _value_path(draw: st.DrawFn) -> tuple[str, list[list[str]]]:
    attribute = draw(st.sampled_from(sorted(ELEMENTS)))
    strings, booleans = ELEMENTS[attribute]
    inner = draw(st.recursive(_single(_leaf(strings, booleans, top=False)), _combined, max_leaves=3))
    return f"{attribute}[{inner[0]}]", inner[1]


skeletons = st.recursive(
    st.one_of(_single(_leaf(STRINGS, ["active"], top=True)), _value_path()), _combined, max_leaves=5
)


@st.composite
def same_shape_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Return two filters drawn from one skeleton: the same shape, each with values of its own."""
    template, pools = draw(skeletons)
    first = template.format(*(draw(st.sampled_from(pool)) for pool in pools))
    second = template.format(*(draw(st.sampled_from(pool)) for pool in pools))
    return first, second


def _answer(engine: Engine, text: str, ids: Any) -> set[str] | str:
    """Return the ids ``ids`` selects for ``text``, or the detail of the error it raises."""
    try:
        return ids(engine, USER, text)  # type: ignore[no-any-return]
    except InvalidFilter as error:
        return error.detail


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=same_shape_pairs())
def test_kept_plans_answer_as_plans_made_alone(engine: Engine, pair: tuple[str, str]) -> None:
    """For random filters of the User schema, the plan kept for a shape (made from another filter of
    that shape) selects exactly what a plan made from the filter alone selects, on both engines."""
    first, second = pair
    try:
        parse_filter(USER, first), parse_filter(USER, second)
    except InvalidInput:
        return  # what the parser refuses never reaches a plan
    _answer(engine, first, _ids)  # plans the shape from the first filter, if it is new
    assert _answer(engine, second, _ids) == _answer(engine, second, _ids_planned_alone), pair


@pytest.mark.parametrize(
    ("op", "value", "shape"),
    [
        ("co", "", "empty"),
        ("eq", "", "empty"),
        ("co", "a" * SHORT_SUBSTRING, "short"),
        ("ew", "a" * (SHORT_SUBSTRING + 1), "long"),
        ("co", "%" * (SHORT_SUBSTRING // 2), "short"),  # its LIKE pattern, "/%" each, is SHORT_SUBSTRING long
        ("co", "_" * (SHORT_SUBSTRING // 2) + "a", "long"),
        ("ew", "/" * (SHORT_SUBSTRING // 2 + 1), "long"),
        ("eq", "a" * (SHORT_SUBSTRING + 1), "text"),  # only co and ew tell short from long
        ("sw", "a" * (SHORT_SUBSTRING + 1), "text"),
        ("eq", 7, None),
        ("eq", None, None),
    ],
)
def test_a_substring_is_short_while_its_like_pattern_is(op: str, value: Any, shape: str | None) -> None:
    """Escapes count: SQLite matches an escaped pattern character by character, as it does its letters."""
    assert text_shape(op, value) == shape
