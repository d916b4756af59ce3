"""The SCIM endpoint: Starlette request → ``ScimRequest`` → handler → Starlette response.

Authentication and the SCIM operation run together in one worker thread
(``web.auth.call_as_bearer``, ADR 0003). Which privilege each operation needs is
the SCIM routing table's business (``scim/routing.py``): provisioning needs
MANAGE_USERS_AND_GROUPS, ``/Me`` only a valid token.

A body holding a ``LazyArray`` (a large group's members, ADR 0019) is sent as it
is read: one more hop into the core's threads per chunk, and the array's read
transaction closed however the sending ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from scimhub.errors import InvalidValue, ScimhubError
from scimhub.scim.errors import error_response
from scimhub.scim.messages import SCIM_MEDIA_TYPE, LazyArray, ScimRequest, ScimResponse
from scimhub.services import Services
from scimhub.web.auth import call_as_bearer
from scimhub.web.bodies import read_body

log = logging.getLogger("scimhub.web")


def _base_url(scope: Scope, prefix: str, public_base_url: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/") + prefix
    host = next((value for key, value in scope["headers"] if key == b"host"), None)  # the first, as Starlette
    server = scope.get("server")  # an iterable, a list in some servers: the cache needs a tuple
    return _origin(scope.get("scheme", "http"), host, None if server is None else tuple(server)) + prefix


@lru_cache(maxsize=64)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int | None] | None) -> str:
    """Return ``scheme://netloc`` as Starlette reads it off a request (``request.url``), once per Host.

    Starlette builds and splits the whole URL, query string and all, for each request: 11 µs.
    The origin depends on these three alone; the cache is bounded, as the Host header is the client's.
    """
    headers = [] if host is None else [(b"host", host)]
    url = URL(scope={"type": "http", "scheme": scheme, "server": server, "path": "/", "headers": headers})
    return f"{url.scheme}://{url.netloc}"


def _query(scope: Scope) -> dict[str, str]:
    """Return the query's parameters as ``dict(request.query_params)`` gives them.

    The last of a repeated name, as there; without Starlette's multi-dict around them: half the cost.
    """
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))


def render(response: ScimResponse, core: Executor, path: str = "") -> Response:
    """Return the Starlette response for a SCIM response, always as ``application/scim+json``.

    A body with a ``LazyArray`` is streamed, its chunks read in ``core``'s threads;
    ``path`` names the request in the log if that fails.
    """
    lazy = response.lazy_array()
    if response.body is not None and lazy is not None:
        return _StreamedResponse(response.status, response.headers, response.body, *lazy, core, path)
    content = b"" if response.body is None else orjson.dumps(response.body)
    return Response(content, response.status, headers=response.headers, media_type=SCIM_MEDIA_TYPE)


@dataclass(frozen=True)
class _Frame:
    """A body rendered around its lazy array, so that the chunks slot in between.

    With the array's values, the document is ``head + opening + values + closing``;
    without any, ``head + opening + closing`` when the array is kept empty, else
    ``head + tail``, the document without its key: what ``orjson.dumps`` gives for
    the whole body, byte for byte (orjson writes objects compactly, in key order).
    """

    head: bytes
    """The document up to the array's key, without the comma before it."""
    opening: bytes
    """``,"key":[`` (no comma when the key comes first)."""
    closing: bytes
    """``]`` and the rest of the document."""
    tail: bytes
    """The rest of the document when the key is left out."""


def _frame(body: dict[str, Any], key: str) -> _Frame:
    keys = list(body)
    before = orjson.dumps({k: body[k] for k in keys[: keys.index(key)]})  # {…}
    head = before[:-1]
    empty = orjson.dumps({**body, key: []})  # the key keeps its place
    opening_end = len(head) + (1 if len(before) > 2 else 0) + len(orjson.dumps(key)) + 2  # [,]"key":[
    without = orjson.dumps({k: v for k, v in body.items() if k != key})
    return _Frame(head, empty[len(head) : opening_end], empty[opening_end:], without[len(head) :])


def _next_values(array: LazyArray) -> bytes | None:
    """Read the next chunk (in a core thread); return its values as JSON, comma-separated; None at the end."""
    values = next(array.chunks, None)
    return None if values is None else orjson.dumps(values)[1:-1]


def _close(array: LazyArray) -> None:
    try:
        array.close()
    except Exception:  # noqa: BLE001 - nobody awaits this: say it here
        log.exception("closing the read transaction of a streamed SCIM response failed")


class _StreamedResponse(StreamingResponse):
    """A SCIM response whose body holds a ``LazyArray``, sent chunk by chunk (ADR 0019).

    The array is closed when the response ends, whichever way: sent, client gone
    (Starlette then cancels the body iterator, maybe while it awaits a chunk, or
    stops iterating without closing it), or failed. Closing runs in a core thread,
    never on the event loop, and is not awaited: it waits for a chunk being read,
    and a cancelled task could not await it.
    """

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        body: dict[str, Any],
        key: str,
        array: LazyArray,
        core: Executor,
        path: str,
    ) -> None:
        self._array, self._core, self._path = array, core, path
        self._outcome = "unsent"  # until the body is sent whole ("sent") or fails ("failed")
        super().__init__(self._body(_frame(body, key)), status, headers, SCIM_MEDIA_TYPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._outcome == "unsent":
                log.info("GET %s ended before its body was sent whole: the client left", self._path)
            try:
                self._core.submit(_close, self._array)
            except RuntimeError:  # the pool is shut down: the server is stopping
                _close(self._array)

    async def _body(self, frame: _Frame) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        opened = False
        yield frame.head
        try:
            while (values := await loop.run_in_executor(self._core, _next_values, self._array)) is not None:
                if values:
                    yield (b"," if opened else frame.opening) + values
                    opened = True
        except Exception:
            # The status and headers are out: the connection is closed, and the client sees a truncated body.
            self._outcome = "failed"
            log.exception("GET %s failed after its headers were sent: the connection is closed", self._path)
            raise
        if opened:
            yield frame.closing
        elif self._array.keep_empty:
            yield frame.opening + frame.closing
        else:
            yield frame.tail
        self._outcome = "sent"  # resumed once the last part went out


class ScimBases:
    """An ASGI middleware that serves every request under a SCIM base itself, ahead of Starlette's router.

    Every method under a base reaches the SCIM routing (``scim/routing.py``), which answers what
    it does not serve: the router had nothing to choose. Innermost of the middleware, so the
    access log, metrics, limits and traffic record see SCIM as before; what it skips is the router,
    the route and two exception wrappers that turn an ``HTTPException``, which this endpoint never
    raises, into a response. That was 4.0–4.6 % of a lookup's instructions (ADR 0079).
    """

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...], services: Services) -> None:
        self.app = app
        self._bases = [(prefix, prefix + "/", scim_endpoint(prefix, services)) for prefix in prefixes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a SCIM request; hand anything else to the app."""
        if scope["type"] == "http":
            path = scope["path"]
            for prefix, below, endpoint in self._bases:
                if path == prefix or path.startswith(below):
                    response = await endpoint(Request(scope, receive, send))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _header_fields(lines: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Return the request's header fields by (lower-case) name, a name's lines joined by ", ".

    RFC 9110 §5.3: the lines of one field are one list. Keeping only the last would let a second
    ``If-None-Match`` line undo a first ``*``, or a second ``If-Match`` line replace the first.
    """
    fields = {name.decode("latin-1"): value.decode("latin-1") for name, value in lines}
    if len(fields) == len(lines):  # no name twice: every request but a rare one
        return fields
    repeated: dict[str, list[str]] = {}
    for name, value in lines:
        repeated.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return {name: ", ".join(values) for name, values in repeated.items()}


def scim_endpoint(prefix: str, services: Services) -> Callable[[Request], Awaitable[Response]]:
    """Return the endpoint serving SCIM below ``prefix``: the path's rest is the SCIM routing's."""

    async def endpoint(request: Request) -> Response:
        scope = request.scope
        path = scope["path"][len(prefix) :] or "/"
        settings = services.settings
        # A bulk request has a limit of its own, advertised as bulk.maxPayloadSize (ADR 0034).
        bulk = request.method == "POST" and path.rstrip("/").lower() == "/bulk"
        try:
            if bulk:
                body = await read_body(request, settings, settings.bulk_max_payload_bytes, "maxPayloadSize")
            else:
                body = await read_body(request, settings)
        except ScimhubError as error:
            return render(error_response(error), services.core, scope["path"])
        headers = _header_fields(scope["headers"])
        if ", " in headers.get("host", ""):  # lines joined; a host has no space in it
            two_hosts = InvalidValue(
                "the request has more than one Host line; HTTP/1.1 allows one (RFC 9112 §3.2),"
                " and the resources' meta.location is built from it"
            )
            return render(error_response(two_hosts), services.core, scope["path"])
        base_url, query = _base_url(scope, prefix, settings.public_base_url), _query(scope)
        response = await call_as_bearer(
            request,
            services,
            lambda actor: services.scim.handle(
                ScimRequest(request.method, path, base_url, query, headers, body, actor)
            ),
            error_response,
            writes_once=not bulk,
        )
        return render(response, services.core, scope["path"])  # not request.url: built whole, 11 µs

    return endpoint
