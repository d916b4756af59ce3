"""The SQL filter compiler returns exactly the resources the filter matches, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from scimhub.errors import InvalidFilter, InvalidValue
from scimhub.query.filter.evaluation import matches_resource
from scimhub.query.filter.parser import parse_filter
from scimhub.query.filter.tree import MAX_TERMS
from scimhub.query.paths import resolve
from scimhub.query.schema import (
    ENTERPRISE_USER,
    ENTERPRISE_USER_SCHEMA,
    GROUP,
    USER,
    USER_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)
from scimhub.store.sql import filters
from scimhub.store.sql.filters import SHORT_SUBSTRING
from scimhub.store.sql.shapes import compile_filter
from scimhub.store.sql.sorting import sort_expression, sort_order
from scimhub.store.sql.tables import group_members, groups, user_emails, users
from tests.databases import migrated_engine

EXT = ENTERPRISE_USER
TEST_EXT = "urn:ietf:params:scim:schemas:extension:test:2.0:User"
TEST_USER = ResourceType(
    "User",
    "/Users",
    "A User with attributes of every type, to test what the standard schemas lack.",
    USER_SCHEMA,
    (
        ENTERPRISE_USER_SCHEMA,
        Schema(
            TEST_EXT,
            "Test",
            "Test",
            (
                Attribute("score", "integer"),
                Attribute("ratio", "decimal"),
                Attribute("birthday", "dateTime"),
                Attribute("tags", "string", multi_valued=True),
                Attribute("code", "string", case_exact=True),
            ),
        ),
    ),
)
T0 = 1_305_261_754_000_000  # 2011-05-13T04:42:34Z in microseconds


def _user(id: str, created: int, version: int = 1, **doc: Any) -> dict[str, Any]:
    return {"id": id, "created": created, "version": version, "doc": doc}


def _extensions(by_urn: dict[str, Any]) -> dict[str, Any]:
    return by_urn


USERS: list[dict[str, Any]] = [
    _user(
        "u1",
        T0,
        3,
        userName="bjensen",
        externalId="BJ-ext",
        name={"familyName": "Jensen", "givenName": "Barbara"},
        displayName="Babs Jensen",
        title="Tour Guide",
        userType="Employee",
        active=True,
        emails=[
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        phoneNumbers=[{"value": "555-555-5555", "type": "work"}],
        roles=[{"value": "admin", "primary": True}, {"value": "reader"}],
        **_extensions(
            {
                EXT: {
                    "employeeNumber": "701984",
                    "department": "Tour Operations",
                    "manager": {"value": "u2"},
                },
                TEST_EXT: {
                    "score": 7,
                    "ratio": 0.5,
                    "tags": ["Red", "blue"],
                    "code": "AbC",
                    "birthday": "1990-01-01T00:00:00Z",
                },
            }
        ),
    ),
    _user(
        "u2",
        T0 + 1_000_000,
        userName="JSmith",
        externalId="js",
        name={"familyName": "Smith", "givenName": "John"},
        displayName="john smith",
        userType="Employee",
        active=False,
        emails=[
            {"value": "x@home.example", "type": "home"},
            {"value": "JS@Work.example", "type": "work", "primary": True},
        ],
        roles=[{"value": "Editor", "primary": True}],
        **_extensions(
            {
                EXT: {"employeeNumber": "2"},
                TEST_EXT: {"score": -3, "ratio": 2.25, "tags": ["green"], "code": "abc"},
            }
        ),
    ),
    _user(
        "u3",
        T0 + 2_000_000,
        userName="omalley",
        name={"familyName": "O'Malley", "givenName": "Ryan"},
        title="100%_off/sale",
        userType="Intern",
        emails=[{"value": "omalley@example.org", "type": "work", "display": "Work"}, {"type": "other"}],
        addresses=[
            {"locality": "Hollywood", "type": "work", "primary": True},
            {"locality": "Paris", "type": "home"},
        ],
        x509Certificates=[{"value": "MIIDQz"}],
    ),
    _user("u4", T0 + 3_000_000, userName="zed", title="", nickName="ΣΊΣΥΦΟΣ İstanbul"),
]

GROUPS: list[dict[str, Any]] = [
    {
        "id": "g1",
        "displayName": "Admins",
        "externalId": "adm",
        "members": [("u1", "User", "Babs"), ("u2", "User", None)],
    },
    {"id": "g2", "displayName": "readers", "members": [("u3", "User", "Ryan"), ("g1", "Group", "Admins")]},
    {"id": "g3", "displayName": "Empty"},
]


def _insert(engine: Engine) -> None:
    """Store the fixtures the way store/sql/directory.py does: doc plus mirrored columns and rows."""
    with engine.begin() as connection:
        for user in USERS:
            doc = user["doc"]
            connection.execute(
                insert(users).values(
                    id=user["id"],
                    user_name=doc["userName"],
                    user_name_key=doc["userName"].lower(),
                    external_id=doc.get("externalId"),
                    display_name=doc.get("displayName"),
                    active=doc.get("active", True) is not False,
                    doc=doc,
                    version=user["version"],
                    created=user["created"],
                    last_modified=user["created"] + 500,
                )
            )
            for position, email in enumerate(doc.get("emails", ())):
                if isinstance(email.get("value"), str):
                    connection.execute(
                        insert(user_emails).values(
                            user_id=user["id"],
                            position=position,
                            value_key=email["value"].lower(),
                            type_key=email["type"].lower() if "type" in email else None,
                        )
                    )
        for group in GROUPS:
            doc = {k: v for k, v in group.items() if k in ("displayName", "externalId")}
            connection.execute(
                insert(groups).values(
                    id=group["id"],
                    display_name=group["displayName"],
                    display_name_key=group["displayName"].lower(),
                    external_id=group.get("externalId"),
                    doc=doc,
                    version=1,
                    created=T0,
                    last_modified=T0,
                )
            )
            for member_id, member_type, display in group.get("members", ()):
                connection.execute(
                    insert(group_members).values(
                        group_id=group["id"], member_id=member_id, member_type=member_type, display=display
                    )
                )


def _time(micros: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _representations(resource_type: ResourceType) -> dict[str, dict[str, Any]]:
    """Return each fixture as GET renders it, for the Python evaluator."""
    found: dict[str, dict[str, Any]] = {}
    if resource_type.name == "User":
        for user in USERS:
            memberships = [g for g in GROUPS if any(m[0] == user["id"] for m in g.get("members", ()))]
            resource = {"id": user["id"], **user["doc"]}
            if memberships:
                resource["groups"] = [{"value": g["id"], "display": g["displayName"]} for g in memberships]
            resource["meta"] = {
                "resourceType": "User",
                "created": _time(user["created"]),
                "lastModified": _time(user["created"] + 500),
                "location": f"https://scim.example/v2/Users/{user['id']}",
                "version": f'W/"{user["version"]}"',
            }
            found[user["id"]] = resource
    else:
        for group in GROUPS:
            resource = {k: v for k, v in group.items() if k != "members"}
            if group.get("members"):
                resource["members"] = [
                    {"value": v, "type": t, **({"display": d} if d else {})} for v, t, d in group["members"]
                ]
            resource["meta"] = {
                "resourceType": "Group",
                "created": _time(T0),
                "lastModified": _time(T0),
                "location": f"https://scim.example/v2/Groups/{group['id']}",
                "version": 'W/"1"',
            }
            found[group["id"]] = resource
    return found


@pytest.fixture(scope="module")
def engine(module_database_url: str) -> Iterator[Engine]:
    with migrated_engine(module_database_url) as created:
        _insert(created)
        yield created


def _ids(engine: Engine, resource_type: ResourceType, filter_text: str) -> set[str]:
    table = users if resource_type.name == "User" else groups
    filtered = compile_filter(resource_type, parse_filter(resource_type, filter_text))
    with engine.connect() as connection:
        return set(connection.execute(select(table.c.id).where(filtered.clause), filtered.values).scalars())


def _evaluated(resource_type: ResourceType, filter_text: str) -> set[str]:
    parsed = parse_filter(resource_type, filter_text)
    return {
        id for id, resource in _representations(resource_type).items() if matches_resource(parsed, resource)
    }


ALL_USERS = {"u1", "u2", "u3", "u4"}

USER_CASES = [
    # indexed columns
    ('userName eq "BJENSEN"', {"u1"}),
    ('userName sw "j"', {"u2"}),
    ('userName gt "j"', {"u2", "u3", "u4"}),
    ('userName co "_"', set()),
    ('externalId eq "bj-ext"', set()),
    ('externalId eq "BJ-ext"', {"u1"}),
    ('externalId co "ext"', {"u1"}),
    ('externalId co "EXT"', set()),
    ('externalId sw "BJ"', {"u1"}),
    ('externalId sw "bj"', set()),
    ('externalId ew "ext"', {"u1"}),
    ('externalId ew "Ext"', set()),
    ('externalId ew "long-BJ-ext"', set()),
    ('externalId co ""', {"u1", "u2"}),
    ("externalId pr", {"u1", "u2"}),
    ("not (externalId pr)", {"u3", "u4"}),
    ('externalId ne "js"', {"u1", "u3", "u4"}),
    ('id eq "u1" or id eq "u3"', {"u1", "u3"}),
    ('id eq "U1"', set()),
    ('displayName eq "JOHN SMITH"', {"u2"}),
    ('displayName lt "c"', {"u1"}),
    # meta
    ('meta.created gt "2011-05-13T04:42:34Z"', {"u2", "u3", "u4"}),
    ('meta.created ge "2011-05-13T04:42:34Z"', ALL_USERS),
    ('meta.created eq "2011-05-13T06:42:34+02:00"', {"u1"}),
    ("meta.created le 2011-05-13T04:42:35.0000009Z", {"u1", "u2"}),
    ("meta.lastModified lt 2011-05-13T04:42:35Z", {"u1"}),
    ('meta.created ne "2011-05-13T04:42:34Z"', {"u2", "u3", "u4"}),
    ('meta.version eq "W/\\"3\\""', {"u1"}),
    ('meta.version ne "W/\\"3\\""', {"u2", "u3", "u4"}),
    ('meta.version eq "3"', set()),
    # No version we could have made: nothing matches (a 500 before session 40: int() of "²", and
    # past 2**31 - 1 PostgreSQL's INTEGER); "٣" is a digit to str.isdigit, not in an ETag of ours.
    ('meta.version eq "W/\\"²\\""', set()),
    ('meta.version eq "W/\\"٣\\""', set()),
    ('meta.version eq "W/\\"2147483648\\""', set()),
    ('meta.version eq "W/\\"9223372036854775808\\""', set()),
    ("meta.version pr", ALL_USERS),
    ('meta.resourceType eq "User"', ALL_USERS),
    ('meta.resourceType eq "user"', set()),
    ('meta.resourceType ne "Group"', ALL_USERS),
    ("meta pr and meta.location pr", ALL_USERS),
    # doc, single-valued
    ('title co "%_o"', {"u3"}),
    ('title co "%"', {"u3"}),
    ('title co "/"', {"u3"}),
    ('title sw "100%"', {"u3"}),
    ('title ew "_OFF/SALE"', {"u3"}),
    ('title co "_"', {"u3"}),
    ("title pr", {"u1", "u3"}),
    ("title eq null", {"u2", "u4"}),
    ("title ne null", {"u1", "u3"}),
    ('title ne "Tour Guide"', {"u2", "u3", "u4"}),
    ('not (title eq "tour guide")', {"u2", "u3", "u4"}),
    ('title eq ""', {"u4"}),
    ('name.familyName eq "o\'malley"', {"u3"}),
    ('name.familyName co "M"', {"u2", "u3"}),
    ('name.givenName gt "jOhN"', {"u3"}),
    ("name pr", {"u1", "u2", "u3"}),
    ("active eq true", {"u1"}),
    ("active eq false", {"u2"}),
    ("active ne true", {"u2", "u3", "u4"}),
    ("active pr", {"u1", "u2"}),
    (f'{EXT}:employeeNumber eq "701984"', {"u1"}),
    (f'{EXT}:manager.value eq "u2"', {"u1"}),
    ('manager eq "U2"', {"u1"}),
    ('manager[value eq "u2"]', {"u1"}),
    ('manager[value ne "u2"]', set()),
    ('not (manager[value eq "u2"])', {"u2", "u3", "u4"}),
    ("manager pr", {"u1"}),
    (f'{EXT}:department sw "tour"', {"u1"}),
    # emails: user_emails rows where a value is needed, doc otherwise
    ('emails.value eq "js@work.example"', {"u2"}),
    ('emails co "EXAMPLE"', {"u1", "u2", "u3"}),
    ('emails.value ew ".org"', {"u1", "u3"}),
    ('emails[type eq "work" and value eq "x@home.example"]', set()),
    ('emails[type eq "home" and value eq "x@home.example"]', {"u2"}),
    ('emails[type eq "work"].value eq "JS@WORK.EXAMPLE"', {"u2"}),
    ('emails[type eq "work"].value co "example"', {"u1", "u2", "u3"}),
    ('emails[type eq "work"]', {"u1", "u2", "u3"}),
    ('emails[type eq "other"]', {"u3"}),
    ('emails[type eq "other"].value pr', set()),
    ('emails[type eq "other" or value pr]', {"u1", "u2", "u3"}),
    ("emails[primary eq true]", {"u1", "u2"}),
    ('emails[primary eq true and type eq "home"]', set()),
    ('emails[display eq "work"]', {"u3"}),
    # Not ASCII: both sides lower-cased a character at a time, as each engine's lower() does (no
    # word-final ς, İ to a plain i); the evaluator a PATCH's value filter runs folds the same way.
    ('nickName eq "σίσυφοσ istanbul"', {"u4"}),
    ('nickName eq "ΣΊΣΥΦΟΣ İSTANBUL"', {"u4"}),
    ('nickName sw "σίσυφοσ i"', {"u4"}),
    ('nickName co "οσ"', {"u4"}),
    ('nickName gt "σ"', {"u4"}),
    ('emails.type eq "other"', {"u3"}),
    ('emails.value ne "bjensen@example.com"', {"u2", "u3", "u4"}),
    ("emails pr", {"u1", "u2", "u3"}),
    ("emails.value pr", {"u1", "u2", "u3"}),
    ('not (emails[type eq "work"])', {"u4"}),
    ('emails[not (type eq "work")]', {"u1", "u2", "u3"}),
    ('emails[type ne "work" and value pr]', {"u1", "u2"}),
    # other multi-valued attributes in doc
    ('roles[primary eq "True"].value eq "editor"', {"u2"}),
    ('roles.value eq "ADMIN"', {"u1"}),
    ('roles[value eq "reader" and primary eq true]', set()),
    ('roles[value eq "reader" and not (primary eq true)]', {"u1"}),
    ('phoneNumbers[type eq "work"].value sw "555"', {"u1"}),
    ('addresses[type eq "work" and locality eq "Paris"]', set()),
    ('addresses[type eq "home" and locality eq "Paris"]', {"u3"}),
    ('addresses.locality gt "m"', {"u3"}),
    ('x509Certificates.value eq "miidqz"', {"u3"}),
    # groups (membership rows)
    ('groups.value eq "g1"', {"u1", "u2"}),
    ('groups eq "G2"', {"u3"}),
    ('groups.display eq "admins"', {"u1", "u2"}),
    ('groups.display sw "READ"', {"u3"}),
    ("groups pr", {"u1", "u2", "u3"}),
    ("not (groups pr)", {"u4"}),
    ('groups[value eq "g2" or display eq "Admins"]', {"u1", "u2", "u3"}),
    ('groups.value ne "g1"', {"u3", "u4"}),
    # logic
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', {"u1"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', {"u4"}),
    ('title pr and userType eq "Employee" or userName pr and not (title pr)', {"u1", "u2", "u4"}),
    ("name.FamilyName eq Jensen and (emails.Value co example.com or emails.Value co example.org)", {"u1"}),
    ("not (not (title pr))", {"u1", "u3"}),
    ('not (title pr and userType eq "Employee")', {"u2", "u3", "u4"}),
]

TEST_USER_CASES = [
    ("score gt 0", {"u1"}),
    ("score le 7", {"u1", "u2"}),
    ("score eq -3", {"u2"}),
    ("score ne 7", {"u2", "u3", "u4"}),
    ("ratio ge 0.5", {"u1", "u2"}),
    ("ratio lt 1", {"u1"}),
    ('tags eq "red"', {"u1"}),
    ('tags[value sw "GR"]', {"u2"}),
    ('tags ne "green"', {"u1", "u3", "u4"}),
    ("tags pr", {"u1", "u2"}),
    ('code eq "abc"', {"u2"}),
    ('code co "bC"', {"u1"}),
    ('code sw "A"', {"u1"}),
    ('code gt "B"', {"u2"}),
    ("birthday pr", {"u1"}),
]

GROUP_CASES = [
    ('displayName eq "ADMINS"', {"g1"}),
    ('displayName co "e"', {"g2", "g3"}),
    ('displayName gt "b"', {"g2", "g3"}),
    ('externalId eq "adm"', {"g1"}),
    ("externalId pr", {"g1"}),
    ('members.value eq "u1"', {"g1"}),
    ('members eq "U1"', {"g1"}),
    ('members[type eq "group"]', {"g2"}),
    ('members[type eq "User" and display eq "babs"]', {"g1"}),
    ('members[value eq "u2" and display pr]', set()),
    ('members[value eq "u2" and not (display pr)]', {"g1"}),
    ("members pr", {"g1", "g2"}),
    ("not (members pr)", {"g3"}),
    ('members.display co "a"', {"g1", "g2"}),
    ('members.type ne "User"', {"g3"}),
    ('meta.resourceType eq "Group"', {"g1", "g2", "g3"}),
]


@pytest.mark.parametrize(("filter_text", "expected"), USER_CASES)
def test_user_filter_selects_exactly(engine: Engine, filter_text: str, expected: set[str]) -> None:
    """The compiled filter returns exactly the users the Python evaluator matches."""
    assert _evaluated(USER, filter_text) == expected
    assert _ids(engine, USER, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), TEST_USER_CASES)
def test_typed_extension_filter_selects_exactly(engine: Engine, filter_text: str, expected: set[str]) -> None:
    """Integers, decimals, caseExact strings and multi-valued simple values compare by type in doc."""
    assert _evaluated(TEST_USER, filter_text) == expected
    assert _ids(engine, TEST_USER, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), GROUP_CASES)
def test_group_filter_selects_exactly(engine: Engine, filter_text: str, expected: set[str]) -> None:
    """Group filters read displayName_key, externalId and the membership rows."""
    assert _evaluated(GROUP, filter_text) == expected
    assert _ids(engine, GROUP, filter_text) == expected


def test_long_or_chain_runs(engine: Engine) -> None:
    """A chain of MAX_TERMS ``or`` terms (the most a filter holds) compiles to one flat OR and runs."""
    text = " or ".join(f'id eq "u{i}"' for i in range(MAX_TERMS))
    assert _ids(engine, USER, text) == ALL_USERS


def test_values_are_bound_never_inlined(engine: Engine) -> None:
    """The filter's values reach SQL as bound parameters; quotes in them change nothing."""
    hostile = "x' OR '1'='1"
    filtered = compile_filter(USER, parse_filter(USER, f'userName eq "{hostile}" or title co "{hostile}"'))
    compiled = select(users.c.id).where(filtered.clause).compile(engine)
    assert "'1'='1" not in str(compiled)
    assert hostile.lower() in filtered.values.values()
    assert _ids(engine, USER, f'userName eq "{hostile}"') == set()


def test_cached_statements_rebind_their_values(engine: Engine) -> None:
    """Two filters of one shape (SQLAlchemy caches the SQL) each get their own values and paths."""
    assert _ids(engine, USER, 'roles.value eq "admin"') == {"u1"}
    assert _ids(engine, USER, 'roles.value eq "editor"') == {"u2"}
    assert _ids(engine, USER, 'phoneNumbers.value eq "555-555-5555"') == {"u1"}
    assert _ids(engine, USER, 'title co "guide"') == {"u1"}
    assert _ids(engine, USER, 'nickName co "guide"') == set()


def test_entra_uniqueness_query_reads_user_emails() -> None:
    """``emails[type eq "work"].value eq …`` is answered from the indexed user_emails rows."""
    clause = compile_filter(USER, parse_filter(USER, 'emails[type eq "work"].value eq "X@Y"')).clause
    sql = str(select(users.c.id).where(clause))
    assert "user_emails" in sql and "json" not in sql.lower()


def test_email_filter_without_value_reads_doc() -> None:
    """``emails[type eq "work"]`` may match an element without value, which only doc has."""
    clause = compile_filter(USER, parse_filter(USER, 'emails[type eq "work"]')).clause
    assert "user_emails" not in str(select(users.c.id).where(clause))


def test_user_name_uses_its_key_column() -> None:
    """``userName eq`` compares users.user_name_key with the lower-cased value."""
    filtered = compile_filter(USER, parse_filter(USER, 'userName eq "BJensen"'))
    assert "users.user_name_key = " in str(filtered.clause.compile())
    assert list(filtered.values.values()) == ["bjensen"]


@pytest.mark.parametrize(
    ("filter_text", "detail"),
    [
        (
            'meta.location eq "x"',
            "'meta.location' is derived from the request's URL, so it cannot be compared; filter on id",
        ),
        ('meta.version gt "W/\\"1\\""', "'meta.version' takes only eq, ne and pr"),
        ('meta.version co "1"', "'meta.version' takes only eq, ne and pr"),
        ('groups.type eq "direct"', "'groups.type' is derived, not stored, so it cannot be filtered"),
        ('groups[$ref eq "x"]', "'groups.$ref' is derived, not stored, so it cannot be filtered"),
    ],
)
def test_unsearchable_comparisons_raise_invalid_filter(filter_text: str, detail: str) -> None:
    """Comparisons on derived attributes are refused with InvalidFilter, not a wrong answer."""
    with pytest.raises(InvalidFilter) as raised:
        compile_filter(USER, parse_filter(USER, filter_text))
    assert raised.value.detail == detail


def test_members_ref_is_not_searchable() -> None:
    """Group ``members.$ref`` is derived from the id and cannot be filtered."""
    with pytest.raises(InvalidFilter, match="'members.\\$ref' is derived"):
        compile_filter(GROUP, parse_filter(GROUP, 'members.$ref co "Users"'))


def test_datetime_in_doc_is_not_comparable() -> None:
    """A dateTime kept in doc (no standard attribute is) only takes pr in a search."""
    with pytest.raises(InvalidFilter, match="cannot be compared with 'gt' in a search"):
        compile_filter(TEST_USER, parse_filter(TEST_USER, 'birthday gt "2000-01-01T00:00:00Z"'))


def _sorted(engine: Engine, resource_type: ResourceType, path: str, descending: bool = False) -> list[str]:
    table = users if resource_type.name == "User" else groups
    order = sort_order(resource_type, resolve(resource_type, path), descending)
    with engine.connect() as connection:
        return list(connection.execute(select(table.c.id).order_by(*order)).scalars())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("userName", ["u1", "u2", "u3", "u4"]),
        ("name.familyName", ["u1", "u3", "u2", "u4"]),
        ("displayName", ["u1", "u2", "u3", "u4"]),
        ("title", ["u4", "u3", "u1", "u2"]),
        ("externalId", ["u1", "u2", "u3", "u4"]),
        ("meta.created", ["u1", "u2", "u3", "u4"]),
        ("meta.version", ["u2", "u3", "u4", "u1"]),
        ("meta.resourceType", ["u1", "u2", "u3", "u4"]),
        ("meta.location", ["u1", "u2", "u3", "u4"]),
        ("emails", ["u1", "u2", "u3", "u4"]),
        ("emails.type", ["u1", "u2", "u3", "u4"]),
        ("emails.value", ["u1", "u2", "u3", "u4"]),
        ("roles.value", ["u1", "u2", "u3", "u4"]),
        ("active", ["u2", "u1", "u3", "u4"]),
        (f"{EXT}:employeeNumber", ["u2", "u1", "u3", "u4"]),
    ],
)
def test_sort_expression_orders_users(engine: Engine, path: str, expected: list[str]) -> None:
    """sortBy orders case-insensitively by code point; multi-valued by the primary, else first, element."""
    assert _sorted(engine, USER, path) == expected


def test_sort_expression_orders_groups(engine: Engine) -> None:
    """Group displayName sorts by its key column, descending too."""
    assert _sorted(engine, GROUP, "displayName") == ["g1", "g3", "g2"]
    assert _sorted(engine, GROUP, "displayName", descending=True) == ["g2", "g3", "g1"]


@pytest.mark.parametrize(("resource_type", "path"), [(USER, "userName"), (GROUP, "displayName")])
def test_sorting_by_a_unique_name_reads_the_index_in_order(resource_type: ResourceType, path: str) -> None:
    """A deep page sorted by userName walks the unique index instead of sorting the table (SQLite's plan):
    no leading ``IS NULL`` term where the column cannot be NULL."""
    table = users if resource_type is USER else groups
    order = sort_order(resource_type, resolve(resource_type, path), descending=True)
    statement = select(table.c.id).order_by(*order).limit(100).offset(900_000)
    with migrated_engine() as created, created.connect() as connection:
        compiled = statement.compile(created, compile_kwargs={"literal_binds": True})
        plan = " / ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert plan.startswith(f"SCAN {table.name} USING INDEX") and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("path", ["name", "meta", "groups", "groups.value", "addresses.primary"])
def test_sort_refuses_what_has_no_order(path: str) -> None:
    """Complex attributes and membership rows cannot order results: InvalidValue."""
    if path == "addresses.primary":
        sort_expression(USER, resolve(USER, path))  # booleans do sort
        return
    with pytest.raises(InvalidValue, match="cannot sort by"):
        sort_expression(USER, resolve(USER, path))


LONG = "x" * (SHORT_SUBSTRING + 1)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "text",
    [
        f'title co "{LONG}"',
        f'title ew "{LONG}"',
        f'userName co "{LONG}"',
        f'userName ew "{LONG}"',
        f'externalId co "{LONG}"',
        f'emails.value co "{LONG}"',
        f'emails[type eq "work"].value ew "{LONG}"',
        f'name.familyName co "{LONG}"',
    ],
)
def test_a_long_substring_is_never_looked_for_by_a_leading_wildcard(dialect: Any, text: str) -> None:
    """Past ``SHORT_SUBSTRING``, ``co`` and ``ew`` never compile to ``LIKE '%…'``, which both engines try
    at every character of the text: 4,000 characters over 64 KB values took 4 s a user (ADR 0087)."""
    sql = str(compile_filter(USER, parse_filter(USER, text)).clause.compile(dialect=dialect))
    assert " LIKE " not in sql.upper() and "strpos(" not in sql
    if " co " in text:
        assert ("position(textsend(" if dialect.name == "postgresql" else "instr(") in sql


def test_a_short_substring_keeps_like_and_a_long_one_has_a_shape_of_its_own() -> None:
    short = compile_filter(USER, parse_filter(USER, f'title co "{LONG[1:]}"'))
    long = compile_filter(USER, parse_filter(USER, f'title co "{LONG}"'))
    assert " LIKE " in str(short.clause).upper() and short.shape != long.shape


SUBSTRING_CASES = [
    pytest.param(resource_type, text, expected, id=text)
    for resource_type, cases in ((USER, USER_CASES), (TEST_USER, TEST_USER_CASES), (GROUP, GROUP_CASES))
    for text, expected in cases
    if " co " in text or " ew " in text
]


@pytest.mark.parametrize(("resource_type", "filter_text", "expected"), SUBSTRING_CASES)
def test_long_substrings_select_what_short_ones_do(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    resource_type: ResourceType,
    filter_text: str,
    expected: set[str],
) -> None:
    """Every ``co`` and ``ew`` case selects the same rows with its value found as a long one is."""
    monkeypatch.setattr(filters, "SHORT_SUBSTRING", 0)
    assert _ids(engine, resource_type, filter_text) == expected
