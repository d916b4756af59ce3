"""The whole JSON API in one table: every resource module's routes, and the OpenAPI document's own."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from scimhub.services import Services
from scimhub.web.api import events, groups, roles, tokens, users
from scimhub.web.api.errors import ERROR_SCHEMA
from scimhub.web.api.openapi import build_document
from scimhub.web.api.routing import ApiCall, ApiRoute, Reply


def serve_document(_: Services, __: ApiCall) -> Reply:
    """Return the OpenAPI document of this API."""
    return Reply(200, document())


ROUTES: tuple[ApiRoute, ...] = (
    *tokens.ROUTES,
    *roles.ROUTES,
    *users.ROUTES,
    *groups.ROUTES,
    *events.ROUTES,
    ApiRoute(
        "GET",
        "/openapi.json",
        serve_document,
        "getOpenApiDocument",
        "Describe this API",
        "Meta",
        privilege=None,
        rule="No token needed: this OpenAPI 3.1 document.",
        response="OpenApiDocument",
        public=True,
    ),
)

SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    "OpenApiDocument": {"type": "object", "description": "An OpenAPI 3.1 document."},
    **tokens.SCHEMAS,
    **roles.SCHEMAS,
    **users.SCHEMAS,
    **groups.SCHEMAS,
    **events.SCHEMAS,
}


@cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document of ``ROUTES``, built once per process."""
    try:
        release = version("scimhub")
    except PackageNotFoundError:  # running from a source tree that was never installed
        release = "0"
    return build_document(ROUTES, SCHEMAS, release)
