"""The SCIM endpoint: Starlette request → ``ScimRequest`` → handler → Starlette response.

Authentication and the SCIM operation run together in one worker thread
(``web.auth.call_as_bearer``, ADR 0003). Which privilege each operation needs is
the SCIM routing table's business (``scim/routing.py``): provisioning needs
MANAGE_USERS_AND_GROUPS, ``/Me`` only a valid token.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
from starlette.requests import Request
from starlette.responses import Response

from scimhub.errors import ScimhubError
from scimhub.scim.errors import error_response
from scimhub.scim.messages import SCIM_MEDIA_TYPE, ScimRequest, ScimResponse
from scimhub.web.auth import call_as_bearer
from scimhub.web.bodies import read_body
from scimhub.wiring import Services


def _base_url(request: Request, prefix: str, public_base_url: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/") + prefix
    return f"{request.url.scheme}://{request.url.netloc}{prefix}"


def render(response: ScimResponse) -> Response:
    """Return the Starlette response for a SCIM response, always as ``application/scim+json``."""
    content = b"" if response.body is None else orjson.dumps(response.body)
    return Response(content, response.status, headers=response.headers, media_type=SCIM_MEDIA_TYPE)


def scim_endpoint(prefix: str, services: Services):  # type: ignore[no-untyped-def]
    """Return the ASGI endpoint serving SCIM below ``prefix``."""

    async def endpoint(request: Request) -> Response:
        path = "/" + request.path_params.get("path", "")
        try:
            body = await read_body(request, services.settings.max_body_bytes)
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
        response = await call_as_bearer(
            request,
            services,
            lambda actor: services.scim.handle(replace(scim_request, actor=actor)),
            error_response,
        )
        return render(response)

    return endpoint
