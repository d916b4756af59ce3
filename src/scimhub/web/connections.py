"""How long and how many: uvicorn's httptools protocol with the deadlines and the cap it lacks (ADR 0022).

uvicorn's ``timeout_keep_alive`` only runs between requests: a connection that
never sends a byte, sends its headers a byte at a time (slowloris) or trickles
its body is held for ever, and ``limit_concurrency`` answers 503 to *every*
request, ``/healthz`` too, once that many sockets are open. This protocol adds:

- a deadline for the request's line and headers (``head_timeout_seconds``), from
  the connection's start or the request's first byte: a 408 when part of a
  request came, a silent close when nothing did;
- a deadline for the body (``body_timeout_seconds``, enforced with a 408 by
  ``web/bodies.py``; here, a little later, the connection is closed if the body
  still drags, for requests whose body nobody reads);
- a cap on open connections (``max_connections``, never above what the
  process's descriptor limit leaves): past it, the longest-idle connection that
  serves no request (idle keep-alive, or still sending its head) is closed, so a
  flood of idle sockets cannot keep a health check out;
- bounds on the request target (414) and the header block (431), and every error
  it answers itself (400, 408, 414, 431) in the shape of the path's API: SCIM's
  Error message under the SCIM base, the JSON API's error elsewhere.

Deadlines are floats checked by one sweep per process every half second, not
a timer per request (ADR 0022 has the cost). Worker processes import the class
by name (``http=`` takes it); ``configure`` sets its limits in each process.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from scimhub.scim.errors import error_message
from scimhub.scim.messages import SCIM_MEDIA_TYPE
from scimhub.settings import Settings
from scimhub.web.one_write import HeadWithBody

log = logging.getLogger("scimhub.connections")

MAX_TARGET_BYTES = 65_535
"""The longest request target: what httptools' URL parser can parse (16-bit offsets); above it, 414."""
MAX_HEADER_BYTES = 65_536
"""The most bytes of header names and values one request may send; above it, 431."""
BODY_GRACE_SECONDS = 2.0
"""How long after ``body_timeout_seconds`` a body still arriving closes the connection."""
SWEEP_SECONDS = 0.5
"""How often deadlines are checked: each is enforced within this much of its time."""
DESCRIPTORS_KEPT = 128
"""Descriptors left for the database, logs and the core's threads when capping connections."""

_STOP_HOOKS: list[Callable[[], None]] = []


def when_stopping(hook: Callable[[], None]) -> Callable[[], None]:
    """Call ``hook`` once when the server starts its graceful shutdown; return what unregisters it."""
    _STOP_HOOKS.append(hook)
    return lambda: _STOP_HOOKS.remove(hook) if hook in _STOP_HOOKS else None


def descriptor_budget() -> int:
    """Return how many connections the process's soft descriptor limit leaves room for."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(1, soft - DESCRIPTORS_KEPT)


@dataclass(frozen=True)
class Limits:
    """The deadlines and the connection cap of one process."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 2048
    scim_prefixes: tuple[str, ...] = ()


class _Refused(Exception):
    """Raised in a parser callback to answer ``status`` instead of parsing on."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with request deadlines, a connection cap and shaped errors."""

    limits: ClassVar[Limits] = Limits()

    @classmethod
    def configure(cls, settings: Settings, scim_prefixes: tuple[str, ...]) -> None:
        """Set this process's limits from ``settings`` (call before serving, in every process)."""
        cls.limits = Limits(
            float(settings.head_timeout_seconds),
            float(settings.body_timeout_seconds),
            max(1, min(settings.max_connections, descriptor_budget())),
            scim_prefixes,
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: float | None = None
        """When the current phase (head or body) must be over, in the loop's time; None when none runs."""
        self._in_body = False
        self._request_begun = False
        self._header_bytes = 0
        self._idle_since = self.loop.time()

    # The connection

    # Ignore, with reason: uvicorn's HttpToolsProtocol narrows asyncio's BaseTransport to Transport
    # (under the same ignore); this override keeps uvicorn's signature.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Make room past the cap, and start the deadline for the first request's head."""
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._make_room()
        self._deadline = self.loop.time() + self.limits.head_timeout
        _sweep_soon(self.loop, self.server_state)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the deadline."""
        super().connection_lost(exc)
        self._deadline = None

    def shutdown(self) -> None:
        """Run the stop hooks (ending long polls), then let uvicorn finish the request in flight."""
        while _STOP_HOOKS:  # once per process: the first connection told runs them
            _STOP_HOOKS.pop()()
        super().shutdown()

    def _idle(self) -> bool:
        return (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing()

    def _make_room(self) -> None:
        idle = [
            c
            for c in self.connections
            if c is not self and isinstance(c, GuardedHttpToolsProtocol) and c._idle()
        ]
        if not idle:
            log.warning("%d connections are serving requests: refusing another", len(self.connections) - 1)
            self.transport.close()
            return
        min(idle, key=lambda c: c._idle_since).transport.close()

    # The request, as httptools parses it

    def on_message_begin(self) -> None:
        """Start the head's deadline of a request on a kept-alive connection."""
        super().on_message_begin()
        self._request_begun, self._in_body, self._header_bytes = True, False, 0
        if self._deadline is None:  # on a kept-alive connection: its next request's head starts now
            self._deadline = self.loop.time() + self.limits.head_timeout

    def on_url(self, url: bytes) -> None:
        """Refuse a request target longer than ``MAX_TARGET_BYTES`` (414)."""
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:
            raise _Refused(414, f"the request target is longer than {MAX_TARGET_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        """Refuse a header block longer than ``MAX_HEADER_BYTES`` (431)."""
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _Refused(431, f"the request's headers are longer than {MAX_HEADER_BYTES} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Swap the head's deadline for the body's; have the response's head go out with its body."""
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:  # not an upgrade, which makes none
            HeadWithBody.install(self.cycle)
        self._in_body = True
        self._deadline = self.loop.time() + self.limits.body_timeout + BODY_GRACE_SECONDS

    def on_message_complete(self) -> None:
        """Stop the body's deadline: the request is in."""
        super().on_message_complete()
        self._deadline = None
        self._request_begun = self._in_body = False

    def on_response_complete(self) -> None:
        """Note when the connection became idle (the oldest idle one goes first at the cap)."""
        super().on_response_complete()
        self._idle_since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        """Answer a request httptools could not parse, or one a callback refused, in its API's shape."""
        # Called by uvicorn while it handles httptools' error: a callback's refusal is that error's context.
        error = sys.exc_info()[1]
        refused = error.__context__ if error is not None else None
        if not isinstance(refused, _Refused):
            refused = _Refused(400, "the request is not valid HTTP/1.1")
        self._answer(refused.status, refused.detail)

    # Deadlines (checked by ``_sweep``)

    def _expired(self) -> None:
        """Close the connection whose deadline passed, with a 408 when part of a request's head came."""
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_body or not self._request_begun or not self._idle():
            # Nothing sent (or a body still dragging after its deadline): no one to answer.
            self.transport.close()
            return
        self._answer(
            408, f"the request's line and headers did not arrive within {self.limits.head_timeout:g} seconds"
        )

    # Answers of its own

    def _answer(self, status: int, detail: str) -> None:
        """Write ``status`` in the shape of the request's API, and close the connection."""
        path = self.url.decode("latin-1") if getattr(self, "url", None) else ""
        if any(path.startswith(prefix) for prefix in self.limits.scim_prefixes):
            body, media_type = orjson.dumps(error_message(status, detail)), SCIM_MEDIA_TYPE
        else:
            body, media_type = (
                orjson.dumps({"status": status, "error": _KINDS[status], "detail": detail}),
                "application/json",
            )
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: ", media_type.encode(), b"\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"connection: close\r\n\r\n",
        ]  # fmt: skip
        log.info("answered %d before the application: %s", status, detail)
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _sweep_soon(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    """Make sure a sweep is scheduled on ``loop`` for the server's connections."""
    if getattr(state, "scimhub_sweep", None) is None:
        state.scimhub_sweep = loop.call_later(SWEEP_SECONDS, _sweep, loop, state)


def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    """Expire every connection past its deadline; sweep again while any connection is open.

    One timer per process instead of one per request: a uvloop timer armed and
    cancelled costs about 6 µs, twice a request; a deadline is a float stored.
    """
    now = loop.time()
    for connection in list(state.connections):
        deadline = getattr(connection, "_deadline", None)
        if deadline is not None and now >= deadline:
            try:
                connection._expired()
            except Exception:  # noqa: BLE001 - one connection must not stop the sweeping of the others
                log.exception("expiring a connection failed")
    state.scimhub_sweep = loop.call_later(SWEEP_SECONDS, _sweep, loop, state) if state.connections else None


_KINDS = {400: "invalidSyntax", 408: "requestTimeout", 414: "uriTooLong", 431: "headersTooLarge"}
"""The JSON API's ``error`` for each status this protocol answers itself."""
