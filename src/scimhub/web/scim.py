"""The SCIM endpoint: Starlette request → ``ScimRequest`` → handler → Starlette response.

The only place the web layer enters the synchronous core: authentication and the
SCIM operation run together in one worker thread (ADR 0003), so a request costs
one hop to the thread pool.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from scimhub.domain.roles import Privilege
from scimhub.errors import PayloadTooLarge, ScimhubError, Unauthorized
from scimhub.scim.errors import error_response
from scimhub.scim.messages import SCIM_MEDIA_TYPE, ScimRequest, ScimResponse
from scimhub.web.auth import bearer_token
from scimhub.wiring import Services


def _base_url(request: Request, prefix: str, public_base_url: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/") + prefix
    return f"{request.url.scheme}://{request.url.netloc}{prefix}"


async def _read_body(request: Request, limit: int) -> bytes:
    """Return the body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _serve(services: Services, scim_request: ScimRequest, token: str | None) -> tuple[ScimResponse, str | None]:
    """Authenticate, then handle; return the response and the actor's id for the access log."""
    try:
        if token is None:
            raise Unauthorized("this endpoint needs an Authorization: Bearer <personal access token> header")
        actor = services.tokens.authenticate(token)
        actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "SCIM provisioning")
    except ScimhubError as error:
        return error_response(error), None
    return services.scim.handle(replace(scim_request, actor=actor)), actor.user_id


def render(response: ScimResponse) -> Response:
    """Return the Starlette response for a SCIM response, always as ``application/scim+json``."""
    content = b"" if response.body is None else orjson.dumps(response.body)
    return Response(content, response.status, headers=response.headers, media_type=SCIM_MEDIA_TYPE)


def scim_endpoint(prefix: str, services: Services):  # type: ignore[no-untyped-def]
    """Return the ASGI endpoint serving SCIM below ``prefix``."""

    async def endpoint(request: Request) -> Response:
        path = "/" + request.path_params.get("path", "")
        try:
            body = await _read_body(request, services.settings.max_body_bytes)
        except ScimhubError as error:
            return render(error_response(error))
        scim_request = ScimRequest(
            method=request.method,
            path=path,
            base_url=_base_url(request, prefix, services.settings.public_base_url),
            query=dict(request.query_params),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=body,
        )
        response, actor_id = await run_in_threadpool(_serve, services, scim_request, bearer_token(request))
        request.scope.setdefault("state", {})["actor"] = actor_id
        return render(response)

    return endpoint
