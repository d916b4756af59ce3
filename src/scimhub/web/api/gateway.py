"""The JSON API on Starlette: one endpoint per path of the route table, and JSON 404/405 for the rest.

Per request: read the body (only for routes that take one, within the size
limit), then one thread hop (``call_as_bearer``, ADR 0003) that authenticates the
token, checks the route's privilege, checks the call against the route's declared
parameters and body (``contract.py``, ADR 0026) and runs its operation. Every
error, the gateway's own included, is a JSON error body (``errors.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scimhub.directory.actors import Actor
from scimhub.errors import MethodNotAllowed, NotFound, ScimhubError
from scimhub.services import Services
from scimhub.web.api.contract import Contract
from scimhub.web.api.errors import error_reply
from scimhub.web.api.routing import PREFIX, ApiCall, ApiRoute, Reply
from scimhub.web.auth import call_as_bearer
from scimhub.web.bodies import read_body

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_ANONYMOUS = Actor(user_id="", urn="urn:li:corpuser:__anonymous")
"""The caller of a public route: holds no privilege at all."""


def render(reply: Reply) -> Response:
    """Return the Starlette response for a reply, JSON unless it has no content."""
    if reply.body is None:
        return Response(status_code=reply.status, headers=dict(reply.headers))
    return Response(
        orjson.dumps(reply.body), reply.status, dict(reply.headers), media_type="application/json"
    )


def run(route: ApiRoute, services: Services, contract: Contract, call: ApiCall) -> Reply:
    """Check the route's privilege, then the call against its declarations, then run its operation.

    Any error becomes a reply: a caller without the privilege learns nothing about its input.
    """
    try:
        if route.privilege is not None:
            call.actor.require(route.privilege, route.summary)
        return route.operation(services, contract.check(route, call))
    except Exception as error:  # noqa: BLE001 - error_reply decides what leaks
        return error_reply(error)


def api_routes(services: Services, table: Iterable[ApiRoute], schemas: Mapping[str, Any]) -> list[BaseRoute]:
    """Return the Starlette routes serving ``table`` below ``PREFIX``, unknown paths last.

    ``schemas`` are the document's components, which the routes' body schemas name.
    """
    contract = Contract(schemas)
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for route in table:
        by_path.setdefault(route.path, {})[route.method] = route
    routes: list[BaseRoute] = [
        Route(PREFIX + path, _endpoint(services, contract, methods), methods=_METHODS)
        for path, methods in by_path.items()
    ]
    routes.append(Route(PREFIX + "/{rest:path}", _unknown_path, methods=_METHODS))
    return routes


def _endpoint(
    services: Services, contract: Contract, methods: dict[str, ApiRoute]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        route = methods.get(request.method)
        if route is None:
            allowed = tuple(sorted(methods))
            detail = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
            return render(error_reply(MethodNotAllowed(detail, allowed)))
        try:
            body = await read_body(request, services.settings) if route.body else b""
        except ScimhubError as error:
            return render(error_reply(error))
        call = ApiCall(
            _ANONYMOUS,
            request.path_params,
            dict(request.query_params),
            body,
            request.headers.get("content-type"),
        )
        if route.public:
            return render(run(route, services, contract, call))
        reply = await call_as_bearer(
            request,
            services,
            lambda actor: run(route, services, contract, replace(call, actor=actor)),
            error_reply,
        )
        return render(reply)

    return endpoint


async def _unknown_path(request: Request) -> Response:
    return render(error_reply(NotFound(f"no API endpoint at {request.url.path}; see {PREFIX}/openapi.json")))
