"""Signing in and out of the console (ADR 0030): cookie, CSRF, lock-out, and sessions that end."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient

from scimhub.console.auth import FORM_COOKIE
from scimhub.console.http import SESSION_COOKIE
from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.settings import Settings
from scimhub.web.app import create_app
from scimhub.wiring import build
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, ConsoleApp, csrf_of, post, sign_in


def test_root_leads_to_sign_in_and_once_signed_in_to_the_console(console: ConsoleApp) -> None:
    """GET / redirects to the sign-in page without a session and to the console with one."""
    browser = console.browser()
    assert browser.get("/", follow_redirects=False).headers["location"] == "/console/sign-in"
    browser = console.signed_in()
    assert browser.get("/", follow_redirects=False).headers["location"] == "/console/"
    assert browser.get("/console/", follow_redirects=False).headers["location"] == "/console/overview"


def test_the_sign_in_form_is_the_documented_contract(console: ConsoleApp) -> None:
    """A <form method="post"> with inputs username and password, each with a label."""
    html = console.browser().get("/console/sign-in").text
    assert re.search(r'<form method="post"[^>]*>', html)
    assert '<input id="username" name="username"' in html and '<label for="username">' in html
    assert '<input id="password" name="password" type="password"' in html and '<label for="password">' in html


def test_the_session_cookie_is_httponly_strict_and_not_secure_over_http(console: ConsoleApp) -> None:
    """Over plain HTTP the cookie is HttpOnly and SameSite=Strict, not Secure (it would never come back)."""
    response = sign_in(console.browser(), "admin", ADMIN_PASSWORD)
    cookie = _cookie(response.headers.get_list("set-cookie"), SESSION_COOKIE)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes and "secure" not in attributes
    assert "samesite=strict" in cookie.lower()


def test_the_cookie_is_secure_over_https(console: ConsoleApp) -> None:
    """A request that came over HTTPS gets a Secure cookie."""
    response = sign_in(console.browser(base_url="https://testserver"), "admin", ADMIN_PASSWORD)
    cookie = _cookie(response.headers.get_list("set-cookie"), SESSION_COOKIE)
    assert "secure" in cookie.lower()


def test_the_cookie_is_secure_when_the_public_url_is_https(database_url: str) -> None:
    """Behind a TLS proxy (SCIMHUB_PUBLIC_BASE_URL https) the cookie is Secure even over HTTP inside."""
    services = build(Settings(database_url=database_url, public_base_url="https://scim.example.com"))
    services.accounts.ensure_admin(ADMIN_PASSWORD)
    browser = TestClient(create_app(services))  # no lifespan: see tests/console/conftest.py
    try:
        page = browser.get("/console/sign-in")
        form_cookie = _cookie(page.headers.get_list("set-cookie"), FORM_COOKIE)
        assert "secure" in form_cookie.lower()
        # The test client speaks HTTP and holds back Secure cookies: send it as the browser over TLS would.
        browser.cookies.set(FORM_COOKIE, form_cookie.split(";")[0].split("=", 1)[1])
        form = {"username": "admin", "password": ADMIN_PASSWORD, "csrf": csrf_of(page.text)}
        response = browser.post("/console/sign-in", data=form, follow_redirects=False)
    finally:
        services.close()
    assert "secure" in _cookie(response.headers.get_list("set-cookie"), SESSION_COOKIE).lower()


def _cookie(set_cookies: list[str], name: str) -> str:
    return next(c for c in set_cookies if c.startswith(name + "="))


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(console: ConsoleApp) -> None:
    """401, one message for an unknown name and a wrong password, and the password is not rendered back."""
    console.user("known")
    browser = console.browser()
    wrong = sign_in(browser, "known", "not the password 123")
    unknown = sign_in(browser, "unknown", "not the password 123")
    assert wrong.status_code == unknown.status_code == 401
    assert "not the password 123" not in wrong.text
    assert re.sub(r'value="[^"]*"', "", wrong.text).replace("known", "") == re.sub(
        r'value="[^"]*"', "", unknown.text
    ).replace("unknown", "")
    assert SESSION_COOKIE not in browser.cookies


def test_signing_in_without_the_form_token_is_refused(console: ConsoleApp) -> None:
    """A sign-in POST without (or with another) CSRF token is 403 and opens no session."""
    browser = console.browser()
    browser.get("/console/sign-in")
    for token in (None, "forged"):
        form = {"username": "admin", "password": ADMIN_PASSWORD} | ({"csrf": token} if token else {})
        response = browser.post("/console/sign-in", data=form, follow_redirects=False)
        assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies
    fresh = console.browser()  # a form token without its cookie: another site's form
    token = csrf_of(browser.get("/console/sign-in").text)
    form = {"username": "admin", "password": ADMIN_PASSWORD, "csrf": token}
    assert fresh.post("/console/sign-in", data=form, follow_redirects=False).status_code == 403


def test_five_failures_lock_the_user_name_even_against_the_right_password(console: ConsoleApp) -> None:
    """The fifth wrong password locks the name (429, Retry-After), the right one too; other names sign in."""
    console.user("target")
    browser = console.browser()
    statuses = [sign_in(browser, "target", f"wrong password {i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = sign_in(browser, "TARGET", PASSWORD)  # any case: one user name
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 900
    assert "Too many failed sign-ins" in locked.text
    console.signed_in()  # another name from the same address is not locked


def test_twenty_failures_from_one_address_lock_the_address(console: ConsoleApp) -> None:
    """Twenty failures over many names lock the address: even admin's right password is refused."""
    browser = console.browser()
    statuses = [sign_in(browser, f"guess{i}", "wrong password").status_code for i in range(20)]
    assert statuses[:19] == [401] * 19 and statuses[19] == 429
    assert sign_in(browser, "admin", ADMIN_PASSWORD).status_code == 429


def test_two_processes_share_one_count(console: ConsoleApp, database_url: str) -> None:
    """Failures sent to two applications (two workers) on one database add up: the fifth locks on both."""
    console.user("target")
    other = build(Settings(database_url=database_url), upgrade=False)
    try:
        first, second = console.browser(), TestClient(create_app(other))
        statuses = [sign_in(b, "target", "wrong").status_code for b in (first, second, first, second, first)]
        assert statuses == [401, 401, 401, 401, 429]
        assert sign_in(second, "target", PASSWORD).status_code == 429
    finally:
        other.close()


def test_signing_out_ends_the_session_on_the_server(console: ConsoleApp) -> None:
    """After sign-out the old cookie, replayed, opens nothing; sign-out needs the CSRF token."""
    browser = console.signed_in()
    secret = browser.cookies[SESSION_COOKIE]
    assert browser.post("/console/sign-out", data={}, follow_redirects=False).status_code == 403
    response = post(browser, "/console/tokens", "/console/sign-out")
    assert response.status_code == 303 and response.headers["location"].startswith("/console/sign-in")
    replay = console.browser(cookies={SESSION_COOKIE: secret})
    assert replay.get("/console/tokens", follow_redirects=False).headers["location"] == "/console/sign-in"


@pytest.mark.parametrize("ending", ["suspend", "delete", "password"])
def test_a_session_ends_on_its_next_request_when_its_user_changes(console: ConsoleApp, ending: str) -> None:
    """Suspending or deleting the user, or a new password, sends its next request to the sign-in page."""
    user = console.user("leaving", "Admin")
    browser = console.signed_in("leaving", PASSWORD)
    assert browser.get("/console/overview").status_code == 200
    hub = console.services
    if ending == "suspend":
        hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "active": False}))
    elif ending == "delete":
        hub.users.delete(SYSTEM, user.id)
    else:
        hub.accounts.set_password(SYSTEM, "leaving", "another password")
    response = browser.get("/console/overview", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"


def test_no_password_reaches_the_logs(console: ConsoleApp, caplog: pytest.LogCaptureFixture) -> None:
    """Neither a right nor a wrong password, nor the session secret, appears in any log record."""
    caplog.set_level(logging.DEBUG)
    browser = console.browser()
    sign_in(browser, "admin", "a wrong password here")
    sign_in(browser, "admin", ADMIN_PASSWORD)
    browser.get("/console/overview")
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "a wrong password here" not in text and ADMIN_PASSWORD not in text
    assert browser.cookies[SESSION_COOKIE] not in text


def test_the_form_cookie_is_strict_and_scoped_to_the_console(console: ConsoleApp) -> None:
    """The sign-in form's CSRF cookie is HttpOnly, SameSite=Strict, under /console only."""
    response = console.browser().get("/console/sign-in")
    cookie = _cookie(response.headers.get_list("set-cookie"), FORM_COOKIE)
    assert (
        "httponly" in cookie.lower()
        and "samesite=strict" in cookie.lower()
        and "path=/console" in cookie.lower()
    )
