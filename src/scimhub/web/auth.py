"""Bearer credentials (RFC 6750 §2.1), and the one thread hop that checks them and does the work.

ADR 0003: the web layer enters the synchronous core once per request. SCIM, the
JSON API and the events poll all go through ``call_as_bearer``, which
authenticates the token *and* runs the operation in the same thread of the
core's own small pool (ADR 0016: a few threads contend less for the GIL than
Starlette's forty).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import copy_context
from typing import TypeVar

from starlette.requests import Request

from scimhub.directory.actors import Actor
from scimhub.directory.tokens import Tokens
from scimhub.errors import ScimhubError, Unauthorized
from scimhub.services import Services

R = TypeVar("R")

NO_TOKEN = "this endpoint needs an Authorization: Bearer <personal access token> header"


def bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None.

    The scheme is case-insensitive (RFC 9110 §11.1); anything else (no header,
    another scheme, an empty token) is no token at all.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def call_as_bearer(
    request: Request, services: Services, work: Callable[[Actor], R], refuse: Callable[[ScimhubError], R]
) -> R:
    """Authenticate the request's bearer token, then run ``work`` as its actor, in one thread hop.

    ``refuse`` renders an authentication failure. The actor's id is left in the
    request's state for the access log (an id, never the token), and a failure's
    reason as ``auth_failure`` for the metrics and the failure throttle
    (``web/ratelimit.py``, ADR 0023).
    """
    token = bearer_token(request)
    # In the request's context, so that the core's log lines carry its request id.
    result, actor_id, failure = await asyncio.get_running_loop().run_in_executor(
        services.core, copy_context().run, _authenticate_then, services.tokens, token, work, refuse
    )
    state = request.scope.setdefault("state", {})
    state["actor"] = actor_id
    if failure is not None:
        state["auth_failure"] = failure
    return result


def _authenticate_then(
    tokens: Tokens, token: str | None, work: Callable[[Actor], R], refuse: Callable[[ScimhubError], R]
) -> tuple[R, str | None, str | None]:
    try:
        if token is None:
            raise Unauthorized(NO_TOKEN, "missing")
        actor = tokens.authenticate(token)
    except ScimhubError as error:
        return refuse(error), None, getattr(error, "reason", "invalid")
    return work(actor), actor.user_id, None
