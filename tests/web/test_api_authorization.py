"""The authorization matrix, over HTTP against the real server, on SQLite and on PostgreSQL.

Rows are credentials, columns are endpoint families; each cell states the exact
status and the error body. Every user of the invalid-credential rows holds the
Admin role, so a 401 there can only come from the credential itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, delete, update

from scimhub.domain.tokens import Duration, sign_token
from scimhub.store.sql.tables import tokens
from scimhub.web.api.routing import PREFIX as API
from scimhub.web.auth import NO_TOKEN
from tests.integration.conftest import SCIM, LiveServer
from tests.integration.test_scim_http import ERROR as SCIM_ERROR
from tests.web.conftest import People, assert_api_error, documented

FORGED = "the bearer token is malformed or was not issued by this server"
REVOKED = "the bearer token has been revoked"
EXPIRED = "the bearer token has expired"


@dataclass(frozen=True)
class Column:
    """One endpoint family: a request, and the privilege a 403 from it names."""

    method: str
    base: str
    path: str
    privilege: str | None = None
    body: str | None = None
    """``own`` or ``other``: a token-creation body for oneself or for another user."""
    template: str | None = None
    """The path as the OpenAPI document names it, for API columns."""


COLUMNS = {
    "scim users": Column("GET", SCIM, "/Users?count=1", "MANAGE_USERS_AND_GROUPS"),
    "scim me": Column("GET", SCIM, "/Me"),
    "list tokens": Column("GET", API, "/tokens", template="/tokens"),
    "create own token": Column("POST", API, "/tokens", "GENERATE_PERSONAL_ACCESS_TOKENS", "own", "/tokens"),
    "create token for other": Column("POST", API, "/tokens", "MANAGE_ACCESS_TOKENS", "other", "/tokens"),
    "assign role": Column(
        "PUT", API, "/roles/Reader/users/{target}", "MANAGE_POLICIES", None, "/roles/{name}/users/{userId}"
    ),
    "list users": Column("GET", API, "/users?count=1", "MANAGE_USERS_AND_GROUPS", template="/users"),
    "me": Column("GET", API, "/me", template="/me"),
}

ALLOWED = {
    # scim users, scim me, list tokens, create own, create for other, assign role, list users, me
    "Reader": (403, 200, 200, 403, 403, 403, 403, 200),
    "Editor": (403, 200, 200, 201, 403, 403, 403, 200),
    "Admin": (200, 200, 200, 201, 201, 200, 200, 200),
}

REFUSED = {
    "no token": NO_TOKEN,
    "malformed": FORGED,
    "wrong signature": FORGED,
    "unknown": REVOKED,
    "expired": EXPIRED,
    "revoked": REVOKED,
    "suspended user": "the token's user '{user_name}' is suspended",
    "deleted user": "the bearer token's user was deleted",
}


@dataclass(frozen=True)
class Credential:
    authorization: str | None
    user_name: str = ""


class Cast:
    """The users and tokens of every row, made once per backend."""

    def __init__(self, live: LiveServer) -> None:
        people = People(live)
        engine = create_engine(live.database_url)
        try:
            self.target = people.user("Reader")
            self.rows: dict[str, Credential] = {}
            for role in ALLOWED:
                person = people.person(role)
                self.rows[role] = Credential(f"Bearer {person.token}", person.user_name)
            self.rows["no token"] = Credential(None)
            self.rows["malformed"] = Credential("Bearer not-a.jwt")
            forged = sign_token(
                "admin",
                b"another server's signing key, 32 bytes or more",
                time.time_ns() // 1000,
                Duration.ONE_DAY,
            )
            self.rows["wrong signature"] = Credential(f"Bearer {forged.token}")
            for row in ("unknown", "expired", "revoked", "suspended user", "deleted user"):
                person = people.person("Admin", duration="ONE_HOUR")
                self.rows[row] = Credential(f"Bearer {person.token}", person.user_name)
                with engine.begin() as connection:
                    if row == "unknown":
                        connection.execute(delete(tokens).where(tokens.c.id == person.token_id))
                    elif row == "expired":
                        past = time.time_ns() // 1000 - 1_000_000
                        connection.execute(
                            update(tokens).where(tokens.c.id == person.token_id).values(expires=past)
                        )
                if row == "revoked":
                    assert people.api.delete(f"/tokens/{person.token_id}").status_code == 204
                elif row == "suspended user":
                    response = people.patch(
                        f"/Users/{person.id}", {"op": "replace", "path": "active", "value": False}
                    )
                    assert response.status_code == 200, response.text
                elif row == "deleted user":
                    assert people.scim.delete(f"/Users/{person.id}").status_code == 204
        finally:
            engine.dispose()
            people.close()

    def request(self, live: LiveServer, row: str, column: Column) -> httpx.Response:
        credential = self.rows[row]
        headers = {} if credential.authorization is None else {"Authorization": credential.authorization}
        json: dict[str, Any] | None = None
        if column.body == "own":
            json = {"name": "matrix"}
        elif column.body == "other":
            json = {"name": "matrix", "actorUrn": f"urn:li:corpuser:{self.target['userName']}"}
        url = live.url + column.base + column.path.format(target=self.target["id"])
        return httpx.request(column.method, url, headers=headers, json=json, timeout=30)


@pytest.fixture(scope="module")
def cast(live: LiveServer) -> Cast:
    return Cast(live)


def _cells() -> list[Any]:
    cells = []
    for row in [*ALLOWED, *REFUSED]:
        for index, name in enumerate(COLUMNS):
            status = ALLOWED[row][index] if row in ALLOWED else 401
            cells.append(pytest.param(row, name, status, id=f"{row}|{name}"))
    return cells


@pytest.mark.parametrize(("row", "column_name", "status"), _cells())
def test_authorization_matrix(live: LiveServer, cast: Cast, row: str, column_name: str, status: int) -> None:
    """Each credential gets exactly the status its privileges earn, with the protocol's error body."""
    column = COLUMNS[column_name]
    response = cast.request(live, row, column)
    assert response.status_code == status, response.text
    if status < 400:
        if column.template is not None:
            documented(column.method, column.template, response)
        return
    detail = REFUSED[row].format(user_name=cast.rows[row].user_name) if status == 401 else None
    if column.base == SCIM:
        _assert_scim_error(response, status, detail, column.privilege)
    else:
        body = assert_api_error(response, status, "unauthorized" if status == 401 else "forbidden", detail)
        if status == 403:
            assert column.privilege is not None and column.privilege in body["detail"]
        assert column.template is not None
        documented(column.method, column.template, response)


def _assert_scim_error(
    response: httpx.Response, status: int, detail: str | None, privilege: str | None
) -> None:
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert set(body) == {"schemas", "status", "detail"}
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == str(status)
    if status == 401:
        assert body["detail"] == detail
        assert response.headers["www-authenticate"].startswith("Bearer ")
    else:
        assert privilege is not None and privilege in body["detail"]


def test_the_matrix_covers_every_row_and_family() -> None:
    """Eleven credentials, eight endpoint families, one expectation per cell."""
    assert len(ALLOWED) + len(REFUSED) == 11
    assert all(len(statuses) == len(COLUMNS) for statuses in ALLOWED.values())
