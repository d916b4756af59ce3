"""Differential tests: our filter semantics against scim2-models, in Python and in SQL.

scim2-models (0.12) parses filters and evaluates them on its pydantic resources
(``ScimFilter[User].match``), so it serves as the oracle. Hypothesis generates
User documents and filters over the attributes where both implementations
define the same result, and checks, for every document:

1. scim2-models accepts the document as a User (so the documents are valid) and
   parses the filter;
2. ``matches_resource`` agrees with ``ScimFilter.match``;
3. the SQL that ``compile_filter`` builds selects exactly those documents, on
   SQLite and, when it is reachable, on PostgreSQL.

Left out on purpose, because scimhub departs from scim2-models there by design:
the tolerances (bare words, ``"True"`` for booleans, ``manager eq …`` on a
single-valued complex attribute, extension attributes without their URN),
``null`` literals, comparisons on ``manager.value`` (caseExact false in RFC 7643
§8.7.1, true in scim2-models), and non-ASCII text (the engines lower-case a character at a
time, scim2-models as Python's ``str.lower`` does; tests/store/test_lower.py pins the engines').
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import EnterpriseUser, ScimFilter, User
from sqlalchemy import Engine, delete, insert, select

from scimhub.query.filter.evaluation import matches_resource
from scimhub.query.filter.parser import parse_filter
from scimhub.query.schema import CORE_USER, ENTERPRISE_USER, USER
from scimhub.store.sql.shapes import compile_filter
from scimhub.store.sql.tables import user_emails, users
from tests.databases import migrated_engine, postgres_database

OracleUser = User[EnterpriseUser]

WORDS = ["a", "A", "ab", "aB", "b", "ba", "x%", "_"]
MAILS = ["a@x.org", "A@X.org", "ab@y.com", "b@x.org"]
TYPES = ["work", "home", "Work"]

words = st.sampled_from(WORDS)


@st.composite
def emails(draw: st.DrawFn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3))):
        email: dict[str, Any] = {"value": draw(st.sampled_from(MAILS))}
        if draw(st.booleans()):
            email["type"] = draw(st.sampled_from(TYPES))
        found.append(email)
    with_primary = draw(st.booleans())
    if found and with_primary:
        found[draw(st.integers(0, len(found) - 1))]["primary"] = True
    return found


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in ("displayName", "title", "nickName", "externalId"):
        if draw(st.booleans()):
            doc[name] = draw(st.sampled_from([*WORDS, ""]))
    parts = {key: draw(words) for key in ("givenName", "familyName") if draw(st.booleans())}
    if parts:
        doc["name"] = parts
    if draw(st.booleans()):
        doc["active"] = draw(st.booleans())
    if addresses := draw(emails()):
        doc["emails"] = addresses
    roles = [
        {"value": draw(words), **({"primary": True} if i == 0 and draw(st.booleans()) else {})}
        for i in range(draw(st.integers(0, 2)))
    ]
    if roles:
        doc["roles"] = roles
    enterprise: dict[str, Any] = {
        key: draw(words) for key in ("employeeNumber", "department") if draw(st.booleans())
    }
    if draw(st.booleans()):
        enterprise["manager"] = {"value": draw(words)}
    if enterprise:
        doc[ENTERPRISE_USER] = enterprise
    return doc


STRING_PATHS = [
    "userName",
    "displayName",
    "title",
    "nickName",
    "externalId",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "roles.value",
    f"{ENTERPRISE_USER}:employeeNumber",
    f"{ENTERPRISE_USER}:department",
]
COMPARE_PATHS = [*STRING_PATHS, "active"]
# manager.value is only tested with pr: RFC 7643 §8.7.1 makes it caseExact false, while
# scim2-models marks it caseExact true, so "A" and "a" compare differently there by design.
PRESENT_PATHS = [
    *COMPARE_PATHS,
    "name",
    "roles",
    f"{ENTERPRISE_USER}:manager",
    f"{ENTERPRISE_USER}:manager.value",
]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
INNER = {"emails": ["value", "type", "primary"], "roles": ["value", "primary"]}


def _values(path: str, op: str) -> list[str]:
    """Return literals for ``path op``: scim2-models refuses a non-address equal to an email."""
    if path.endswith("type"):
        return TYPES
    if path in ("emails", "emails.value", "value") and op not in ("co", "sw", "ew"):
        return MAILS
    return WORDS + MAILS


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def comparisons(draw: st.DrawFn, paths: list[str], inside: str = "", present: list[str] | None = None) -> str:
    if draw(st.integers(0, 5)) == 0:
        return f"{draw(st.sampled_from(present or paths))} pr"
    path = draw(st.sampled_from(paths))
    if path.split(".")[-1] in ("active", "primary"):
        return f"{path} {draw(st.sampled_from(['eq', 'ne']))} {draw(st.sampled_from(['true', 'false']))}"
    op = draw(st.sampled_from(OPS))
    value = draw(st.sampled_from(_values(f"{inside}.{path}" if inside else path, op)))
    return f"{path} {op} {_quoted(value)}"


@st.composite
def value_paths(draw: st.DrawFn) -> str:
    attribute = draw(st.sampled_from(sorted(INNER)))
    subs = INNER[attribute]
    inner = draw(
        st.recursive(
            comparisons(subs, inside=attribute),
            lambda children: st.one_of(
                st.tuples(children, st.sampled_from(["and", "or"]), children).map(" ".join),
                children.map(lambda c: f"not ({c})"),
            ),
            max_leaves=3,
        )
    )
    if draw(st.booleans()):
        tail = draw(comparisons([s for s in subs if s != "primary"], inside=attribute))
        return f"{attribute}[{inner}].{tail}"
    return f"{attribute}[{inner}]"


USER_NAMES = ["a", "B", "ab", "bA"]
user_lists = st.lists(documents(), min_size=1, max_size=len(USER_NAMES)).map(
    lambda docs: [{"userName": name, **doc} for name, doc in zip(USER_NAMES, docs, strict=False)]
)
"""One to four users; userName is unique case-insensitively, as the store requires."""

filters = st.recursive(
    st.one_of(comparisons(COMPARE_PATHS, present=PRESENT_PATHS), value_paths()),
    lambda children: st.one_of(
        st.tuples(children, st.sampled_from(["and", "or", "AND", "Or"]), children).map(" ".join),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"({c})"),
    ),
    max_leaves=5,
)


def _store(engine: Engine, docs: list[dict[str, Any]]) -> None:
    """Replace the stored users with ``docs`` the way store/sql/directory.py writes them."""
    with engine.begin() as connection:
        connection.execute(delete(user_emails))
        connection.execute(delete(users))
        for index, doc in enumerate(docs):
            id = f"u{index}"
            connection.execute(
                insert(users).values(
                    id=id,
                    user_name=doc["userName"],
                    user_name_key=doc["userName"].lower(),
                    external_id=doc.get("externalId"),
                    display_name=doc.get("displayName"),
                    active=doc.get("active", True) is not False,
                    doc=doc,
                    version=1,
                    created=0,
                    last_modified=0,
                )
            )
            rows = [
                {
                    "user_id": id,
                    "position": position,
                    "value_key": email["value"].lower(),
                    "type_key": email["type"].lower() if "type" in email else None,
                }
                for position, email in enumerate(doc.get("emails", ()))
            ]
            if rows:
                connection.execute(insert(user_emails), rows)


def _selected(engine: Engine, filter_text: str) -> set[str]:
    filtered = compile_filter(USER, parse_filter(USER, filter_text))
    with engine.connect() as connection:
        return set(connection.execute(select(users.c.id).where(filtered.clause), filtered.values).scalars())


def _expected(filter_text: str, docs: list[dict[str, Any]]) -> set[str]:
    """Return the ids scim2-models matches, after checking ours agrees with it document by document."""
    oracle = ScimFilter[OracleUser](filter_text)
    ours = parse_filter(USER, filter_text)
    matched = set()
    for index, doc in enumerate(docs):
        id = f"u{index}"
        resource = OracleUser.model_validate({"schemas": [CORE_USER, ENTERPRISE_USER], "id": id, **doc})
        expected = oracle.match(resource)
        assert matches_resource(ours, {"id": id, **doc}) is expected, (filter_text, doc)
        if expected:
            matched.add(id)
    return matched


@pytest.fixture(scope="module")
def sqlite_engine() -> Iterator[Engine]:
    with migrated_engine() as engine:
        yield engine


@pytest.fixture(scope="module")
def postgres_engine(postgres_admin_url: str) -> Iterator[Engine]:
    with postgres_database(postgres_admin_url) as url, migrated_engine(url) as engine:
        yield engine


ORACLE_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@ORACLE_SETTINGS
@given(docs=user_lists, filter_text=filters)
def test_python_and_sqlite_agree_with_scim2_models(
    sqlite_engine: Engine, docs: list[dict[str, Any]], filter_text: str
) -> None:
    """matches_resource and SQLite select exactly the users scim2-models matches."""
    expected = _expected(filter_text, docs)
    _store(sqlite_engine, docs)
    assert _selected(sqlite_engine, filter_text) == expected


@pytest.mark.postgres
@settings(ORACLE_SETTINGS, max_examples=50)
@given(docs=user_lists, filter_text=filters)
def test_postgresql_agrees_with_scim2_models(
    postgres_engine: Engine, docs: list[dict[str, Any]], filter_text: str
) -> None:
    """PostgreSQL selects exactly the users scim2-models matches."""
    expected = _expected(filter_text, docs)
    _store(postgres_engine, docs)
    assert _selected(postgres_engine, filter_text) == expected
