"""The OpenAPI 3.1 document of the JSON API, written from the route table, never by hand.

Every operation carries its required privilege as ``x-required-privilege`` (null:
any valid token) and, where the directory checks more depending on the request,
``x-conditional-privileges``; the description says when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scimhub.web.api.routing import PREFIX, ApiRoute

_REASONS = {
    400: "The body is not a JSON object.",
    401: "No token, or a malformed, forged, unknown, revoked or expired one, or one whose user is suspended"
    " or deleted.",
    403: "The token's user lacks the privilege.",
    404: "No such resource.",
    409: "The change clashes with the stored state.",
    413: "The body is larger than SCIMHUB_MAX_BODY_BYTES.",
    415: "The body is not application/json.",
    422: "The request was read, but a value in it is wrong; the detail names it.",
    429: "A rate limit refuses the request for now (SCIMHUB_RATE_LIMIT_*, SCIMHUB_AUTH_FAILURE_LIMIT);"
    " retry after the seconds Retry-After gives.",
}


def build_document(routes: Iterable[ApiRoute], schemas: Mapping[str, Any], version: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document describing ``routes``, with ``schemas`` as components."""
    routes = tuple(routes)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for route in routes:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route)
        tags[route.tag] = None
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "scimhub API",
            "version": version,
            "description": "Personal access tokens, roles, and read views of users and groups, DataHub's way."
            " Authenticate with `Authorization: Bearer <personal access token>`.",
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A DataHub-format personal access token.",
                }
            },
            "schemas": dict(schemas),
            "responses": {
                str(s): _error_response(s) for s in sorted({s for r in routes for s in r.error_statuses()})
            },
        },
    }


def _operation(route: ApiRoute) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": route.rule,
        "tags": [route.tag],
        "x-required-privilege": route.privilege.value if route.privilege else None,
    }
    if route.also:
        operation["x-conditional-privileges"] = [p.value for p in route.also]
    if route.public:
        operation["security"] = []
    if route.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in route.params
        ]
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    success: dict[str, Any] = {"description": route.summary + ": done."}
    if route.response is not None:
        success["content"] = {"application/json": {"schema": _ref(route.response)}}
    responses = {str(route.status): success}
    responses.update({str(s): {"$ref": f"#/components/responses/{s}"} for s in route.error_statuses()})
    operation["responses"] = responses
    return operation


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "The Bearer challenge (RFC 6750 §3).",
                "schema": {"type": "string"},
            }
        }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before the next request (RFC 9110 §10.2.3).",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response
