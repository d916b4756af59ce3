"""One structured log line per request: method, path, status, duration, actor, under its request id.

A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per
request). It logs the path without the query string and never a header, so no
token and no filter value can reach the log. It also gives the request its id
(``web/request_ids.py``) and puts it on the response as ``X-Request-ID``.

A client that leaves before its request was read (Starlette's
``ClientDisconnect``) is no error of ours: it is logged once, at INFO, with the
status 499 (nginx's "client closed request"), and no traceback (ADR 0022).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimhub.logs import REQUEST_ID
from scimhub.web.request_ids import HEADER, TrustedProxies, request_id

log = logging.getLogger("scimhub.access")

CLIENT_CLOSED_REQUEST = 499
"""The access log's status for a request whose client left before it was answered."""


class AccessLog:
    """Log each HTTP request once it has been answered."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies | None = None) -> None:
        self.app = app
        self.trusted = trusted or TrustedProxies("")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request under a fresh (or trusted) id, stamp the id on the answer, and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope, self.trusted)
        # Not reset: the request's task ends with the request, and uvicorn's own
        # "Exception in ASGI application" line, logged in that task after this
        # middleware, keeps the id.
        REQUEST_ID.set(rid)
        stamp = (HEADER, rid.encode("ascii"))
        status = 500
        fields: dict[str, Any] = {}

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), stamp]}
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except ClientDisconnect:
            status = CLIENT_CLOSED_REQUEST
            fields["error"] = "the client disconnected before its request was read"
        finally:
            fields.update(
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
                actor=scope.get("state", {}).get("actor"),
            )
            log.info("request", extra={"request": fields})
