"""The SQL filter compiler returns exactly the resources the filter matches, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from scimhub.errors import InvalidFilter, InvalidValue
from scimhub.scim.filters import matches_resource, parse_filter
from scimhub.scim.paths import resolve
from scimhub.scim.schema import ENTERPRISE_USER, GROUP, USER, ResourceType
from scimhub.store.sql.filters import compile_filter, sort_expression
from scimhub.store.sql.tables import group_members, groups, metadata, user_emails, users

POSTGRES_URL = os.environ.get("SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXT = ENTERPRISE_USER
T0 = 1_305_261_754_000_000  # 2011-05-13T04:42:34Z in microseconds


def _user(id: str, created: int, version: int = 1, **doc: Any) -> dict[str, Any]:
    return {"id": id, "created": created, "version": version, "doc": doc}


USERS = [
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
        **{EXT: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "u2"}}},
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
        emails=[{"value": "x@home.example", "type": "home"}, {"value": "JS@Work.example", "type": "work"}],
        roles=[{"value": "Editor", "primary": True}],
        **{EXT: {"employeeNumber": "2"}},
    ),
    _user(
        "u3",
        T0 + 2_000_000,
        userName="omalley",
        name={"familyName": "O'Malley", "givenName": "Ryan"},
        title="100%_off/sale",
        userType="Intern",
        emails=[{"value": "omalley@example.org", "type": "work", "display": "Work"}, {"type": "other"}],
        addresses=[{"locality": "Hollywood", "type": "work", "primary": True}, {"locality": "Paris", "type": "home"}],
        x509Certificates=[{"value": "MIIDQz"}],
    ),
    _user("u4", T0 + 3_000_000, userName="zed", title=""),
]

GROUPS = [
    {"id": "g1", "displayName": "Admins", "externalId": "adm", "members": [("u1", "User", "Babs"), ("u2", "User", None)]},
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
    if resource_type is USER:
        for user in USERS:
            memberships = [g for g in GROUPS if any(m[0] == user["id"] for m in g.get("members", ()))]
            resource = {"id": user["id"], **user["doc"]}
            if memberships:
                resource["groups"] = [{"value": g["id"], "display": g["displayName"]} for g in memberships]
            resource["meta"] = {
                "resourceType": "User",
                "created": _time(user["created"]),
                "lastModified": _time(user["created"] + 500),
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
            resource["meta"] = {"resourceType": "Group", "created": _time(T0), "lastModified": _time(T0),
                                "version": 'W/"1"'}
            found[group["id"]] = resource
    return found


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        created = create_engine("sqlite://", poolclass=StaticPool)
        metadata.create_all(created)
        _insert(created)
        yield created
        created.dispose()
        return
    schema = f"test_filters_{uuid.uuid4().hex[:12]}"
    created = create_engine(POSTGRES_URL)
    try:
        with created.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        created.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable in CI: {error}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable (set SCIMHUB_TEST_POSTGRES_URL): {error}")

    @event.listens_for(created, "connect")
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()

    created.pool.dispose()  # connections opened before the listener lack the search_path
    try:
        metadata.create_all(created)
        _insert(created)
        yield created
    finally:
        created.pool.dispose()
        with created.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        created.dispose()


def _ids(engine: Engine, resource_type: ResourceType, filter_text: str) -> set[str]:
    table = users if resource_type is USER else groups
    clause = compile_filter(resource_type, parse_filter(resource_type, filter_text))
    with engine.connect() as connection:
        return set(connection.execute(select(table.c.id).where(clause)).scalars())


def _evaluated(resource_type: ResourceType, filter_text: str) -> set[str]:
    parsed = parse_filter(resource_type, filter_text)
    return {id for id, resource in _representations(resource_type).items() if matches_resource(parsed, resource)}
