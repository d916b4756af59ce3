"""How a console request is served: session cookie, CSRF, security headers, one hop into the core, errors.

Every page is a plain function run on the core's threads (ADR 0003, ADR 0016):
it reads the session, checks the CSRF token of a form, calls the ``directory/``
use cases as the signed-in user, and renders a template, all in one hop. The
use cases and ``Actor.require`` make every privilege check, the same ones the
JSON API makes; nothing here decides who may do what.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimhub.console.counts import CountCache
from scimhub.console.traffic import ScimTraffic
from scimhub.directory.sessions import Session
from scimhub.domain.roles import Privilege
from scimhub.domain.text import check_no_nul
from scimhub.domain.tokens import MAX_DESCRIPTION, MAX_NAME
from scimhub.errors import InvalidValue, ScimhubError
from scimhub.services import Services
from scimhub.statuses import classify

log = logging.getLogger("scimhub.console")
T = TypeVar("T")

PREFIX = "/console"
SESSION_COOKIE = "scimhub_session"
MAX_FORM_BYTES = 16 * 1024
"""A console form is a few short fields; a larger body is refused before it is parsed."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
"""On every console response (ADR 0030). ``no-referrer``: a reset link's query never leaves in a Referer."""


class ConsoleEdge:
    """What every console request goes through: no NUL on its way in, the security headers on its way out.

    The console's requests are those of ``/`` and of everything under ``/console``, its errors (404,
    405) included; SCIM and the APIs answer JSON, read their own input and are left alone.

    - In: a path, query or urlencoded form that holds a NUL (U+0000) is answered 400 before any page
      reads it: PostgreSQL cannot store one, and no text here may hold one (ADR 0021). SCIM and the
      JSON API refuse it where they parse their input; the console's pages read theirs in many
      places, so it is refused here, once. A POST's body is read whole first, as a form whatever
      its Content-Type, then handed on as it came; one larger than ``MAX_FORM_BYTES`` goes on
      unread, for ``read_form`` to refuse.
    - Out: the security headers, and ``Cache-Control: no-store`` on pages (ADR 0030).
    """

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a console request with its headers, or refuse it if it carries a NUL; pass on the rest."""
        path = scope.get("path", "") if scope["type"] == "http" else None
        if path is None or not (path == "/" or path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send, static=path.startswith(PREFIX + "/static/"))
        form, receive = await _read_ahead(scope, receive)
        try:
            _check_no_nul(scope, form)
        except InvalidValue as error:
            await self.console.error(error, None)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _with_security_headers(send: Send, *, static: bool) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), *SECURITY_HEADERS]
            if not static:  # a page may hold a one-time secret: never kept by a cache or the history
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return send_with_headers


async def _read_ahead(scope: Scope, receive: Receive) -> tuple[bytes, Receive]:
    """Read a POST's body of at most ``MAX_FORM_BYTES``; return it and what hands it on again.

    Whatever its Content-Type says: a page reads it as a form or not at all, and the check must not
    decide otherwise than the page does (a header the two read apart would let a form through).
    """
    if scope["method"] != "POST":
        return b"", receive
    read: deque[Message] = deque()
    size, more = 0, True
    while more and size <= MAX_FORM_BYTES:
        message = await receive()
        read.append(message)
        size += len(message.get("body", b""))
        more = message["type"] == "http.request" and message.get("more_body", False)

    async def again() -> Message:
        return read.popleft() if read else await receive()

    form = b"".join(m.get("body", b"") for m in read) if size <= MAX_FORM_BYTES else b""
    return form, again


def _check_no_nul(scope: Scope, form: bytes) -> None:
    check_no_nul(scope["path"], "the request path")
    _check_fields(scope["query_string"].decode("latin-1"), "query parameter")  # as Starlette reads it
    _check_fields(form.decode(errors="replace"), "form field")


def _check_fields(urlencoded: str, kind: str) -> None:
    for name, value in parse_qsl(urlencoded, keep_blank_values=True):
        check_no_nul(name, f"a {kind}'s name")
        check_no_nul(value, f"{kind} {name[:40]!r}")


@dataclass(frozen=True)
class Call:
    """One console request as a page sees it."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str]
    base_url: str
    """The server's root as the browser reached it (or ``SCIMHUB_PUBLIC_BASE_URL``), without a slash."""
    cookies: Mapping[str, str] = field(default_factory=dict)
    """The request's cookies: a page reads its own (the tokens page its one-time pad, ADR 0048)."""


@dataclass(frozen=True)
class Cookie:
    """A cookie a page sets, or expires (no value); HttpOnly, SameSite=Strict, Secure as the session's."""

    name: str
    value: str | None
    """None: expire the cookie."""
    path: str
    max_age: int = 0


@dataclass(frozen=True)
class View:
    """A page to render: a template, its context, a status."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    cookies: tuple[Cookie, ...] = ()


@dataclass(frozen=True)
class Redirect:
    """See another page (303): the Post/Redirect/Get after a form."""

    url: str
    cookies: tuple[Cookie, ...] = ()


Work = Callable[[Session, Call], View | Redirect]


def when(micros: int | None) -> str:
    """Return a time in microseconds as ``YYYY-MM-DD HH:MM:SS UTC``; an empty text for none."""
    if micros is None:
        return ""
    return datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def count(number: int | None) -> str:
    """Return a count with thousands separators; "counting…" for one not read yet (ADR 0045)."""
    return "counting…" if number is None else f"{number:,}"


def _templates() -> Environment:
    folder = str(files("scimhub.console") / "templates")
    environment = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt name fails the test that renders it, never renders empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    environment.filters["count"] = count
    environment.globals.update(
        Privilege=Privilege, PREFIX=PREFIX, MAX_TOKEN_NAME=MAX_NAME, MAX_TOKEN_DESCRIPTION=MAX_DESCRIPTION
    )
    return environment


class Console:
    """The console's services and templates, made once per process (the lock-out counts in the database)."""

    def __init__(self, services: Services, traffic: ScimTraffic, scim_prefix: str) -> None:
        self.services = services
        self.traffic = traffic
        self.scim_prefix = scim_prefix
        """The SCIM base path the Tenant URL shows (DataHub's)."""
        self.sessions = services.sessions
        self.resets = services.resets
        self.lockout = services.lockout
        self.templates = _templates()
        self.counts = CountCache(services)
        """The overview's counts, read in the background at most every 30 s (ADR 0044, ADR 0045)."""

    def secure(self, request: Request) -> bool:
        """Tell whether cookies must be ``Secure``: the request came over HTTPS or the public URL is https."""
        public = self.services.settings.public_base_url or ""
        return request.url.scheme == "https" or public.lower().startswith("https:")

    def base_url(self, request: Request) -> str:
        """Return the server's root URL as clients should use it."""
        public = self.services.settings.public_base_url
        return (public or str(request.base_url)).rstrip("/")

    def set_cookies(self, request: Request, response: Response, cookies: tuple[Cookie, ...]) -> Response:
        """Set (or expire) ``cookies`` on ``response``: HttpOnly, SameSite=Strict, Secure as the session's."""
        secure = self.secure(request)
        for cookie in cookies:
            if cookie.value is None:
                response.delete_cookie(
                    cookie.name, cookie.path, secure=secure, httponly=True, samesite="strict"
                )
            else:
                response.set_cookie(
                    cookie.name,
                    cookie.value,
                    max_age=cookie.max_age,
                    path=cookie.path,
                    secure=secure,
                    httponly=True,
                    samesite="strict",
                )
        return response

    def render(self, view: View, session: Session | None) -> HTMLResponse:
        """Render a view for the signed-in user (or nobody, on the sign-in and reset pages)."""
        nav = _NAV.get(view.template, "")
        if view.template == "user.html" and view.context.get("own"):
            nav = "me"
        context = {"session": session, "csrf": session.csrf if session else "", "nav": nav, **view.context}
        return HTMLResponse(self.templates.get_template(view.template).render(context), view.status)

    def error(self, error: ScimhubError | Exception, session: Session | None) -> HTMLResponse:
        """Render an error as a page with the status the JSON API would answer."""
        status = classify(error, log)
        view = View("error.html", {"status": status.status, "detail": status.detail}, status.status)
        response = self.render(view, session)
        if "Retry-After" in status.headers:
            response.headers["Retry-After"] = status.headers["Retry-After"]
        return response

    async def hop(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the core's threads in the request's context (its log lines keep the request id)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.services.core, copy_context().run, work)

    def page(self, work: Work) -> Callable[[Request], Awaitable[Response]]:
        """Return an endpoint serving ``work`` to a signed-in user; a POST needs the session's CSRF token.

        Without a live session a GET goes to the sign-in page and a POST is
        refused with 403, changing nothing, as a POST with a wrong CSRF token is.
        """

        async def endpoint(request: Request) -> Response:
            # A body that is no console form carries no CSRF token either: refused below, with 403.
            form = (await read_form(request) or {}) if request.method == "POST" else {}
            secret = request.cookies.get(SESSION_COOKIE)
            call = Call(
                request.path_params, dict(request.query_params), form, self.base_url(request), request.cookies
            )

            def serve() -> Response:
                session = self.sessions.resolve(secret) if secret else None
                if request.method == "POST" and not (session and same(form.get("csrf"), session.csrf)):
                    return self.render(View("error.html", EXPIRED_FORM, 403), session)
                if session is None:
                    return RedirectResponse(f"{PREFIX}/sign-in", 303)
                request.scope.setdefault("state", {})["actor"] = session.user.id  # for the access log
                try:
                    result = work(session, call)
                except ScimhubError as error:
                    return self.error(error, session)
                if isinstance(result, Redirect):
                    return self.set_cookies(request, RedirectResponse(result.url, 303), result.cookies)
                return self.set_cookies(request, self.render(result, session), result.cookies)

            return await self.hop(serve)

        return endpoint


_NAV = {
    "overview.html": "overview",
    "users.html": "users",
    "user.html": "users",
    "groups.html": "groups",
    "group.html": "groups",
    "roles.html": "roles",
    "role.html": "roles",
    "tokens.html": "tokens",
    "token_revoke.html": "tokens",
    "events.html": "events",
}
"""The navigation entry each page is under, marked ``aria-current``."""

EXPIRED_FORM = {
    "status": 403,
    "detail": "This form has expired or did not come from this console; nothing was changed."
    " Open the page again and resend it.",
}


def same(sent: str | None, expected: str) -> bool:
    """Compare a sent CSRF token with the expected one in constant time."""
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


async def read_form(request: Request) -> dict[str, str] | None:
    """Return a urlencoded form's fields (the first value of each); None for another or too large a body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
