"""Signing in and out, and the page a password-reset link opens (ADR 0030, ADR 0033).

The sign-in and reset forms come before any session, so their CSRF token is a
double submit: a random value in a SameSite=Strict cookie and in the form,
which another site can neither read nor set. A sign-in is refused before the
password is even checked while its user name or its address is locked out; the
counts are in the database, shared by every process (ADR 0048).
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scimhub.console.http import (
    EXPIRED_FORM,
    PREFIX,
    SESSION_COOKIE,
    Console,
    Cookie,
    View,
    read_form,
    same,
)
from scimhub.directory.sessions import LIFETIME, SECOND
from scimhub.errors import InvalidInput, Unauthorized

FORM_COOKIE = "scimhub_form"
"""The double-submit CSRF token of the forms used before signing in."""
_WRONG = "The user name or password is wrong, or the user may not sign in."
_LOCKED = "Too many failed sign-ins. Try again in {minutes} minute(s)."


def auth_routes(console: Console) -> list[BaseRoute]:
    """Return the routes of ``/``, sign-in, sign-out and the reset page."""

    def form_page(request: Request, view: View, token: str | None = None) -> Response:
        """Render a pre-session form with a fresh double-submit token (or the one the browser holds)."""
        token = token or request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        response = console.render(
            View(view.template, {**view.context, "form_token": token}, view.status), None
        )
        return console.set_cookies(request, response, (Cookie(FORM_COOKIE, token, PREFIX, 3600),))

    async def home(request: Request) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        session = await console.hop(lambda: console.sessions.resolve(secret)) if secret else None
        return RedirectResponse(f"{PREFIX}/" if session else f"{PREFIX}/sign-in", 303)

    async def sign_in_page(request: Request) -> Response:
        done = request.query_params.get("done")
        notice = "Your password is set. Sign in with it." if done == "password" else ""
        notice = "You are signed out." if done == "signed-out" else notice
        return form_page(request, View("sign_in.html", {"user_name": "", "error": "", "notice": notice}))

    async def sign_in(request: Request) -> Response:
        form = await read_form(request)
        cookie = request.cookies.get(FORM_COOKIE)
        if form is None or not cookie or not same(form.get("csrf"), cookie):
            return console.render(View("error.html", EXPIRED_FORM, 403), None)
        user_name, password = form.get("username", "").strip(), form.get("password", "")
        address = request.client.host if request.client else ""

        def again(error: str, status: int) -> Response:
            context = {"user_name": user_name, "error": error, "notice": ""}  # never the password
            return form_page(request, View("sign_in.html", context, status))

        def attempt() -> str | int:
            """Return the new session's secret, or the seconds to wait (0: a plain failure)."""
            lockout = console.lockout
            wait = lockout.retry_after(user_name, address)
            if wait:
                return wait
            try:
                secret, _ = console.sessions.open(user_name, password)
            except Unauthorized:
                return lockout.failed(user_name, address)
            lockout.succeeded(user_name)
            return secret

        # argon2 (~0.1 s) and the lock-out's reads and writes, in one hop on Starlette's
        # threads, not the core's few, which serve SCIM (ADR 0030, ADR 0048).
        secret = await run_in_threadpool(attempt)
        if isinstance(secret, int):
            if secret:
                return _retry_later(again(_LOCKED.format(minutes=-(-secret // 60)), 429), secret)
            return again(_WRONG, 401)
        cookies = (Cookie(SESSION_COOKIE, secret, "/", LIFETIME // SECOND), Cookie(FORM_COOKIE, None, PREFIX))
        return console.set_cookies(request, RedirectResponse(f"{PREFIX}/", 303), cookies)

    async def sign_out(request: Request) -> Response:
        form = await read_form(request)
        secret = request.cookies.get(SESSION_COOKIE)
        session = await console.hop(lambda: console.sessions.resolve(secret)) if secret else None
        if form is None or session is None or not same(form.get("csrf"), session.csrf):
            return console.render(View("error.html", EXPIRED_FORM, 403), session)
        await console.hop(lambda: console.sessions.close(secret or ""))
        response = RedirectResponse(f"{PREFIX}/sign-in?done=signed-out", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def reset_page(request: Request) -> Response:
        key = request.query_params.get("key", "")
        user = await console.hop(lambda: console.resets.find(key)) if key else None
        if user is None:
            return console.render(View("error.html", _SPENT, 404), None)
        context = {"key": key, "user_name": user.user_name, "error": ""}
        return form_page(request, View("reset.html", context))

    async def reset(request: Request) -> Response:
        form = await read_form(request)
        cookie = request.cookies.get(FORM_COOKIE)
        if form is None or not cookie or not same(form.get("csrf"), cookie):
            return console.render(View("error.html", EXPIRED_FORM, 403), None)
        key, password = form.get("key", ""), form.get("password", "")
        if password != form.get("confirm", ""):
            user = await console.hop(lambda: console.resets.find(key))
            if user is None:
                return console.render(View("error.html", _SPENT, 404), None)
            context = {"key": key, "user_name": user.user_name, "error": "The two passwords differ."}
            return form_page(request, View("reset.html", context, 400))
        try:
            await run_in_threadpool(console.resets.redeem, key, password)
        except InvalidInput as error:
            user = await console.hop(lambda: console.resets.find(key))
            if user is None:
                return console.render(View("error.html", {"status": 400, "detail": error.detail}, 400), None)
            context = {"key": key, "user_name": user.user_name, "error": error.detail}
            return form_page(request, View("reset.html", context, 400))
        return RedirectResponse(f"{PREFIX}/sign-in?done=password", 303)

    return [
        Route("/", home, methods=["GET"]),
        Route(f"{PREFIX}/sign-in", sign_in_page, methods=["GET"]),
        Route(f"{PREFIX}/sign-in", sign_in, methods=["POST"]),
        Route(f"{PREFIX}/sign-out", sign_out, methods=["POST"]),
        Route(f"{PREFIX}/reset", reset_page, methods=["GET"]),
        Route(f"{PREFIX}/reset", reset, methods=["POST"]),
    ]


def _retry_later(response: Response, seconds: int) -> Response:
    response.headers["Retry-After"] = str(seconds)
    return response


_SPENT = {
    "status": 404,
    "detail": "This password-reset link was used already, was replaced by a newer one, or has expired."
    " Ask an administrator for a new one.",
}
