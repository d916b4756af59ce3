"""The JSON API's tests: the live server of ``tests/integration`` (one per backend), and helpers.

``api`` and ``scim`` clients are authenticated as the built-in administrator;
``people`` provisions users with roles over SCIM and issues their tokens through
the API, as an administrator would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from scimhub.web.api.routing import PREFIX as API
from scimhub.web.api.table import document
from tests.integration.conftest import SCIM, LiveServer, live  # noqa: F401 - the live server fixture
from tests.integration.test_scim_http import PATCH_OP, unique


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    with live.client(base=API) as client:
        yield client


@pytest.fixture
def bare(live: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    """Yield an API client that sends no token unless a request does."""
    with httpx.Client(base_url=live.url + API, timeout=30) as client:
        yield client


@pytest.fixture
def scim(live: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    with live.client(base=SCIM) as client:
        yield client


@dataclass(frozen=True)
class Person:
    """A provisioned user and a token acting as it."""

    id: str
    user_name: str
    token: str
    token_id: str

    @property
    def urn(self) -> str:
        return f"urn:li:corpuser:{self.user_name}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class People:
    """Provision users and groups over SCIM and issue tokens through the API, as the administrator."""

    def __init__(self, live: LiveServer) -> None:  # noqa: F811
        self.live = live
        self.scim = live.client(base=SCIM)
        self.api = live.client(base=API)

    def user(self, *roles: str, **attributes: Any) -> dict[str, Any]:
        body = {"userName": unique("user"), "roles": [{"value": r} for r in roles], **attributes}
        response = self.scim.post("/Users", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def token(self, user: dict[str, Any], duration: str = "ONE_DAY") -> tuple[str, str]:
        body = {
            "name": unique("token"),
            "actorUrn": f"urn:li:corpuser:{user['userName']}",
            "duration": duration,
        }
        response = self.api.post("/tokens", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        return created["accessToken"], created["metadata"]["id"]

    def person(self, *roles: str, duration: str = "ONE_DAY") -> Person:
        user = self.user(*roles)
        token, token_id = self.token(user, duration)
        return Person(user["id"], user["userName"], token, token_id)

    def group(self, *members: str) -> dict[str, Any]:
        body = {"displayName": unique("group"), "members": [{"value": m} for m in members]}
        response = self.scim.post("/Groups", json=body)
        assert response.status_code == 201, response.text
        group: dict[str, Any] = response.json()
        return group

    def patch(self, path: str, *operations: dict[str, Any]) -> httpx.Response:
        return self.scim.patch(path, json={"schemas": [PATCH_OP], "Operations": list(operations)})

    def close(self) -> None:
        self.scim.close()
        self.api.close()


@pytest.fixture
def people(live: LiveServer) -> Iterator[People]:  # noqa: F811
    helper = People(live)
    yield helper
    helper.close()


def documented(method: str, path: str, response: httpx.Response) -> None:
    """Assert that the document lists the response's status for the operation, and that its body conforms."""
    operation = document()["paths"][API + path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method} {path} answered {status}, which the document does not list"
    )
    described = operation["responses"][status]
    if "$ref" in described:
        described = document()["components"]["responses"][described["$ref"].rsplit("/", 1)[1]]
    content = described.get("content")
    if content is None:
        assert not response.content
        return
    schema = {**content["application/json"]["schema"], "components": document()["components"]}
    Draft202012Validator(schema).validate(response.json())


def assert_api_error(
    response: httpx.Response, status: int, kind: str, detail: str | None = None
) -> dict[str, Any]:
    """Assert a JSON API error: the status, ``{"status", "error", "detail"}`` and nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "error", "detail"}
    assert body["status"] == status and body["error"] == kind and body["detail"]
    if detail is not None:
        assert body["detail"] == detail
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer ")
    return body
