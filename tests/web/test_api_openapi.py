"""The OpenAPI document: valid OpenAPI 3.1, served without a token, and exactly the routes the app serves."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from scimhub.settings import Settings
from scimhub.web.api.routing import PREFIX
from scimhub.web.api.table import ROUTES, document
from scimhub.web.app import create_app
from scimhub.wiring import build
from tests.integration.conftest import LiveServer

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    services = build(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/api.db"))
    with TestClient(create_app(services)) as test_client:
        yield test_client


def operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in document()["paths"].items() for method in item]


def test_the_document_is_valid_openapi_3_1(client: TestClient) -> None:
    """The served document passes openapi-spec-validator and needs no token."""
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    served = response.json()
    validate(served)
    assert served["openapi"] == "3.1.0"
    assert served["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A DataHub-format personal access token.",
    }


def test_every_operation_names_its_privilege_and_errors() -> None:
    """Each operation has x-required-privilege, bearer security unless public, and its error responses."""
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            assert "x-required-privilege" in operation, (method, path)
            assert operation["description"], (method, path)
            if path == f"{PREFIX}/openapi.json":
                assert operation["security"] == []
                continue
            assert "security" not in operation  # the document-wide bearer requirement applies
            assert "401" in operation["responses"], (method, path)
            if operation["x-required-privilege"] or operation.get("x-conditional-privileges"):
                assert "403" in operation["responses"], (method, path)


def test_the_privileges_in_code_are_the_documented_ones() -> None:
    """x-required-privilege is the privilege the gateway checks, route by route."""
    for route in ROUTES:
        operation = document()["paths"][PREFIX + route.path][route.method.lower()]
        assert operation["x-required-privilege"] == (route.privilege.value if route.privilege else None)


def test_every_app_route_is_documented_and_every_documented_one_served(client: TestClient) -> None:
    """The app's /api/v1 paths are the document's; each documented operation is served (401, not 404)."""
    served = {
        route.path
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith(PREFIX) and "{rest:path}" not in route.path
    }
    assert served == set(document()["paths"])
    for method, path in operations():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        response = client.request(method, concrete)
        expected = 200 if path.endswith("/openapi.json") else 401
        assert response.status_code == expected, (method, path, response.text)


def test_undocumented_methods_are_405(client: TestClient) -> None:
    """A method the document does not list for a path is a JSON 405 whose Allow lists the documented ones."""
    for path, item in document()["paths"].items():
        documented_methods = {m.upper() for m in item}
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in set(METHODS) - documented_methods:
            response = client.request(method, concrete)
            assert response.status_code == 405, (method, path)
            assert set(response.headers["allow"].split(", ")) == documented_methods
            assert response.json()["error"] == "methodNotAllowed"


def test_operation_ids_are_unique() -> None:
    """Each operation has its own operationId, as OpenAPI requires and code generators need."""
    ids = [op["operationId"] for item in document()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_live_server_serves_the_document(live: LiveServer) -> None:
    """The real server answers /api/v1/openapi.json with the same document, without a token."""
    assert httpx.get(f"{live.url}{PREFIX}/openapi.json").json() == document()


def test_every_operation_documents_the_rate_limit() -> None:
    """Every operation, the public one too, may answer 429 with Retry-After (ADR 0023)."""
    doc = document()
    assert doc["components"]["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["responses"]["429"] == {"$ref": "#/components/responses/429"}, (method, path)
