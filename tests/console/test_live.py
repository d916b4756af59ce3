"""The console on the real server (``scimhub serve``) over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx

from tests.console.conftest import csrf_of
from tests.integration.conftest import SCIM, LiveServer, live  # noqa: F401 - the live server fixture
from tests.integration.test_scim_http import PATCH_OP, unique

PASSWORD = "a password over http"


def _browser(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def _sign_in(browser: httpx.Client, user_name: str, password: str) -> httpx.Response:
    token = csrf_of(browser.get("/console/sign-in").text)
    form = {"username": user_name, "password": password, "csrf": token}
    return browser.post("/console/sign-in", data=form)


def test_a_scim_suspension_ends_the_console_session_on_its_next_request(live: LiveServer) -> None:  # noqa: F811
    """Entra sets active false over SCIM: the user's open console session is sent to the sign-in page."""
    user_name = unique("console-admin")
    with live.client(base=SCIM) as scim, _browser(live) as browser:
        created = scim.post(
            "/Users", json={"userName": user_name, "password": PASSWORD, "roles": [{"value": "Admin"}]}
        )
        assert created.status_code == 201, created.text
        assert _sign_in(browser, user_name, PASSWORD).status_code == 303
        assert browser.get("/console/overview").status_code == 200
        patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        assert scim.patch(f"/Users/{created.json()['id']}", json=patch).status_code == 200
        ended = browser.get("/console/overview")
        assert ended.status_code == 303 and ended.headers["location"] == "/console/sign-in"


def test_neither_a_password_nor_a_reset_key_reaches_the_server_log(live: LiveServer) -> None:  # noqa: F811
    """The access log names paths without queries; no form field or cookie is logged."""
    user_name = unique("logged")
    with live.client(base=SCIM) as scim, _browser(live) as admin, _browser(live) as other:
        made = scim.post(
            "/Users", json={"userName": user_name, "password": PASSWORD, "roles": [{"value": "Admin"}]}
        )
        target = scim.post("/Users", json={"userName": unique("target")}).json()
        assert _sign_in(admin, user_name, PASSWORD).status_code == 303 and made.status_code == 201
        page = admin.get(f"/console/users/{target['id']}")
        issued = admin.post(f"/console/users/{target['id']}/reset-link", data={"csrf": csrf_of(page.text)})
        link = re.search(r'data-testid="reset-link">([^<]+)<', issued.text).group(1)  # type: ignore[union-attr]
        key = link.split("key=")[1]
        form = other.get(link)
        chosen = {
            "csrf": csrf_of(form.text),
            "key": key,
            "password": "the chosen one",
            "confirm": "the chosen one",
        }
        assert other.post("/console/reset", data=chosen).status_code == 303
    log = live.log.read_text()
    assert "/console/reset" in log
    for secret in (PASSWORD, key, "the chosen one", admin.cookies.get("scimhub_session", "?")):
        assert secret not in log
