"""The console in process (Starlette's TestClient) on a fresh database of each engine, and helpers.

Each ``browser()`` is a client with its own cookie jar, as a separate browser would be; none
runs the application's lifespan (the fixture closes the services itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.domain.users import User
from scimhub.settings import Settings
from scimhub.web.app import create_app
from scimhub.wiring import Services, build

ADMIN_PASSWORD = "the admin's password"
PASSWORD = "a user's password"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


class ConsoleApp:
    """The application, its services, and browsers to drive it."""

    def __init__(self, services: Services, first: TestClient) -> None:
        self.services = services
        self.app = first.app
        self.first = first

    def browser(self, **options: Any) -> TestClient:
        """Return a client with a cookie jar of its own."""
        return TestClient(self.app, **options)

    def user(self, user_name: str, *roles: str, password: str | None = PASSWORD, **doc: Any) -> User:
        """Store a user as a SCIM client would, with a password it can sign in with."""
        body = {"userName": user_name, "roles": [{"value": r} for r in roles], **doc}
        return self.services.users.create(SYSTEM, UserEdit(body, password))

    def counted(self) -> None:
        """Read the console's counts now, as its background reading would (ADR 0045)."""
        self.app.state.console.counts.refresh()  # type: ignore[attr-defined]

    def signed_in(self, user_name: str = "admin", password: str = ADMIN_PASSWORD) -> TestClient:
        """Return a browser signed in as ``user_name``."""
        browser = self.browser()
        response = sign_in(browser, user_name, password)
        assert response.status_code == 303 and response.headers["location"] == "/console/", response.text
        return browser


def sign_in(browser: TestClient, user_name: str, password: str) -> httpx.Response:
    """Open the sign-in page and send its form with a user name and password; return the answer."""
    token = csrf_of(browser.get("/console/sign-in").text)
    form = {"username": user_name, "password": password, "csrf": token}
    return browser.post("/console/sign-in", data=form, follow_redirects=False)


def post(browser: TestClient, page: str, action: str, /, **form: str) -> httpx.Response:
    """Send a form of ``page`` to ``action`` with the page's CSRF token, without following redirects."""
    token = csrf_of(browser.get(page).text)
    return browser.post(action, data={**form, "csrf": token}, follow_redirects=False)


NEW_TOKEN = re.compile(r'data-testid="new-token">([^<]+)<')


def make_token(browser: TestClient, **form: str) -> str:
    """Generate a token on the tokens page (POST, 303) and return it as the GET that follows shows it."""
    made = post(browser, "/console/tokens", "/console/tokens", **form)
    assert made.status_code == 303 and made.headers["location"] == "/console/tokens", made.text[:500]
    shown = NEW_TOKEN.search(browser.get("/console/tokens").text)
    assert shown is not None
    return shown.group(1)


@pytest.fixture
def console(database_url: str) -> Iterator[ConsoleApp]:
    """Yield the console of a fresh database, with the built-in admin's password set."""
    services = build(Settings(database_url=database_url))
    services.accounts.ensure_admin(ADMIN_PASSWORD)
    # No lifespan: the pages need none, and on PostgreSQL the long polls' LISTEN connection, which
    # the lifespan opens, would be left to the garbage collector when the test client's loop ends.
    try:
        yield ConsoleApp(services, TestClient(create_app(services)))
    finally:
        services.core.shutdown(wait=True)  # a count reading the pages started ends before the database goes
        services.close()
