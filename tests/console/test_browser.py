"""The console in a real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), on the real server.

The issue's walk-through, end to end: sign in; generate a token and use it for a real SCIM request;
provision a user over SCIM and find them with their role; give a group a role and see a member's
effective role change; a password-reset link opened in a fresh browser; that user sees only what a
Reader may; suspend a user; revoke the token and see SCIM refuse it; sign out. Every page is checked
for console errors and CSP violations, and with axe-core (from npm, ``tests/console/support``) for
serious or critical accessibility violations. Screenshots go to ``SCIMHUB_CONSOLE_SCREENSHOTS``
(``docs/console`` when the docs are refreshed), else to the test's temporary folder.

Without Chromium or axe-core these tests skip, except under ``CI=true`` (``.ci/run`` installs both),
where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SCIM, running_server
from tests.integration.test_scim_http import unique

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "support" / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_PASSWORD = "browser admin password"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _require(present: bool, what: str) -> None:
    if present:
        return
    reason = f"{what} is missing (.ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a server of this module's own, on a fresh SQLite database, admin's password set."""
    directory = tmp_path_factory.mktemp("console-browser")
    url = f"sqlite:///{directory}/scimhub.db"
    env = {"SCIMHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with running_server(url, directory / "serve.log", env) as (_, base):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require(CHROMIUM.exists(), str(CHROMIUM))
    _require(AXE.exists(), str(AXE))
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCIMHUB_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A browser page whose console errors, page errors and CSP violations are collected."""

    def __init__(self, context: Any, base: str) -> None:
        self.page = context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        return response

    def check(self, shots: Path | None = None, name: str = "") -> None:
        """Assert no console error or CSP violation so far, and no serious or critical axe violation here."""
        assert self.problems == [], self.problems
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{self.page.url}: {serious}"
        if shots is not None and name:
            self.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _sign_in(watched: Watched, user_name: str, password: str) -> None:
    page = watched.page
    watched.go("/")
    page.get_by_label("User name").fill(user_name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/**")


def test_the_administrators_walk_through(server: str, chromium: Any, shots: Path) -> None:
    """Sign in; token; SCIM; a group's role; a reset link; a Reader's view; suspend; revoke; sign out."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    admin = Watched(context, server)
    page = admin.page
    admin.go("/")
    assert page.url.endswith("/console/sign-in")
    admin.check(shots, "sign-in")
    _sign_in(admin, "admin", ADMIN_PASSWORD)
    assert page.url.endswith("/console/overview")
    admin.check()

    # A token, shown once, used for a real SCIM request.
    page.get_by_role("link", name="Access tokens").click()
    page.get_by_label("Name", exact=True).fill("entra")
    page.get_by_label("Expires after").select_option("ONE_MONTH")
    page.get_by_role("button", name="Generate").click()
    token = page.get_by_test_id("new-token").inner_text().strip()
    assert token.count(".") == 2
    admin.check(shots, "tokens")
    admin.go("/console/tokens")
    assert page.get_by_test_id("new-token").count() == 0 and token not in page.content()
    scim = httpx.Client(base_url=server + SCIM, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    newcomer = scim.post("/Users", json={"userName": unique("newcomer"), "roles": [{"value": "Editor"}]})
    assert newcomer.status_code == 201, newcomer.text
    name = newcomer.json()["userName"]

    # The provisioned user, found with its role.
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Search").fill(name[:12])
    page.get_by_role("button", name="Apply").click()
    row = page.get_by_role("row").filter(has_text=name)
    assert "Editor" in row.inner_text()
    admin.check(shots, "users")

    # A group's role changes its member's effective role.
    group = scim.post(
        "/Groups", json={"displayName": unique("ops"), "members": [{"value": newcomer.json()["id"]}]}
    )
    assert group.status_code == 201, group.text
    admin.go(f"/console/groups/{group.json()['id']}")
    page.get_by_label("Assign a role").select_option("Admin")
    page.get_by_role("button", name="Assign").click()
    assert "The role is assigned." in page.content()
    admin.check(shots, "group")
    admin.go(f"/console/users/{newcomer.json()['id']}")
    assert "inherited from group" in page.content()
    assert "Admin" in page.locator("p", has_text="Effective:").inner_text()
    admin.check(shots, "user")

    # A reset link, opened in a fresh browser, for a Reader who then sees only a Reader's console.
    reader = scim.post("/Users", json={"userName": unique("reader"), "roles": [{"value": "Reader"}]}).json()
    admin.go(f"/console/users/{reader['id']}")
    page.get_by_role("button", name="Make a password-reset link").click()
    link = page.get_by_test_id("reset-link").inner_text().strip()
    fresh = Watched(chromium.new_context(), server)
    fresh.page.goto(link)
    fresh.check(shots, "reset")
    fresh.page.get_by_label("New password").fill("reader's own password")
    fresh.page.get_by_label("The same password again").fill("reader's own password")
    fresh.page.get_by_role("button", name="Set the password").click()
    fresh.page.wait_for_url("**/console/sign-in?done=password")
    _sign_in(fresh, reader["userName"], "reader's own password")
    assert fresh.page.url.endswith("/console/me")
    assert fresh.page.get_by_role("link", name="Users", exact=True).count() == 0
    fresh.check(shots, "reader")
    assert fresh.go("/console/users").status == 403
    fresh.problems.clear()  # the 403 itself is reported by Chromium as a failed resource

    # Suspend a user from the console.
    admin.go(f"/console/users/{reader['id']}")
    page.get_by_role("button", name="Suspend").click()
    assert page.locator("h1 .badge").inner_text() == "Suspended"
    assert fresh.go("/console/me").url.endswith("/console/sign-in")  # its session ended

    # The change feed, the roles, the overview.
    for path, shot in (
        ("/console/events", "events"),
        ("/console/roles", "roles"),
        ("/console/overview", "overview"),
    ):
        admin.go(path)
        admin.check(shots, shot)

    # Revoke the token, with confirmation; SCIM refuses it from then on.
    page.get_by_role("link", name="Access tokens").click()
    page.get_by_role("row").filter(has_text="entra").get_by_role("link", name="Revoke").click()
    admin.check(shots, "revoke")
    page.get_by_role("button", name="Revoke the token").click()
    assert "The token is revoked" in page.content()
    assert scim.get("/Users").status_code == 401
    scim.close()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in?done=signed-out")
    assert admin.go("/console/overview").url.endswith("/console/sign-in")
    admin.check()
    context.close()


def test_signing_in_and_moving_around_with_the_keyboard_alone(server: str, chromium: Any) -> None:
    """The sign-in form is reached, filled and sent with keys only; Tab reaches the navigation."""
    context = chromium.new_context()
    watched = Watched(context, server)
    page = watched.page
    watched.go("/")
    assert page.evaluate("document.activeElement.id") == "username"  # autofocus
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/overview")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
        if reached[-1] == "Users":
            break
    assert reached[-1] == "Users", reached
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/users")
    watched.check()
    context.close()


def test_reading_works_without_javascript(server: str, chromium: Any) -> None:
    """With JavaScript off, sign-in and every page still read; only the copy buttons are absent."""
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    for path in (
        "/console/overview",
        "/console/users",
        "/console/groups",
        "/console/roles",
        "/console/tokens",
    ):
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
    assert page.locator("button[data-copy]:visible").count() == 0
    context.close()
