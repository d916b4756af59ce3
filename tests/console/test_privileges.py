"""Every console page and action checks the privileges the JSON API checks (issue 13, part 3)."""

from __future__ import annotations

import pytest

from scimhub.console.http import CSP
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Role
from tests.console.conftest import PASSWORD, ConsoleApp, csrf_of, make_token, post

ADMIN_PAGES = ["/console/overview", "/console/users", "/console/groups", "/console/roles", "/console/events"]


def test_a_reader_sees_its_own_profile_and_tokens_and_nothing_to_administer(console: ConsoleApp) -> None:
    """A Reader lands on its own page; every administration page is 403; the navigation offers none."""
    other = console.user("someone")
    console.user("reader", "Reader")
    browser = console.signed_in("reader", PASSWORD)
    assert browser.get("/console/", follow_redirects=False).headers["location"] == "/console/me"
    me = browser.get("/console/me")
    assert me.status_code == 200 and "reader" in me.text
    for forbidden in ("Suspend", "Assign a role", "password-reset link", 'href="/console/users"'):
        assert forbidden not in me.text
    assert browser.get("/console/tokens").status_code == 200
    for page in [*ADMIN_PAGES, f"/console/users/{other.id}"]:
        response = browser.get(page)
        assert response.status_code == 403, page
        assert "MANAGE_USERS_AND_GROUPS" in response.text or "GET_PLATFORM_EVENTS" in response.text


def test_a_reader_cannot_act_on_anybody(console: ConsoleApp) -> None:
    """Suspending, assigning roles, reset links and tokens for others are refused, and nothing changes."""
    target = console.user("target")
    console.user("reader", "Reader")
    browser = console.signed_in("reader", PASSWORD)
    actions = [
        (f"/console/users/{target.id}/active", {"active": "false"}),
        (f"/console/users/{target.id}/roles", {"role": "Admin", "action": "assign"}),
        (f"/console/users/{target.id}/reset-link", {}),
        ("/console/tokens", {"name": "for target", "user": "target"}),
    ]
    for action, form in actions:
        response = post(browser, "/console/tokens", action, **form)
        assert response.status_code == 403, (action, response.text[:500])
    hub = console.services
    assert hub.users.get(target.id).user.active
    assert hub.roles.of_users([target.id])[target.id].effective == ()
    assert [v.record.name for v in hub.tokens.list(SYSTEM)] == []


def test_an_editor_makes_its_own_tokens_but_not_other_peoples(console: ConsoleApp) -> None:
    """GENERATE_PERSONAL_ACCESS_TOKENS: one's own; another user's needs MANAGE_ACCESS_TOKENS."""
    console.user("editor", "Editor")
    console.user("other")
    browser = console.signed_in("editor", PASSWORD)
    assert 'name="user"' not in browser.get("/console/tokens").text  # the field is for MANAGE_ACCESS_TOKENS
    assert make_token(browser, name="mine", duration="ONE_HOUR").count(".") == 2
    theirs = post(browser, "/console/tokens", "/console/tokens", name="theirs", user="other")
    assert theirs.status_code == 403 and "MANAGE_ACCESS_TOKENS" in theirs.text


def test_a_reader_cannot_make_a_token_at_all(console: ConsoleApp) -> None:
    """A Reader lacks GENERATE_PERSONAL_ACCESS_TOKENS, as in DataHub."""
    console.user("reader", "Reader")
    browser = console.signed_in("reader", PASSWORD)
    response = post(browser, "/console/tokens", "/console/tokens", name="mine")
    assert response.status_code == 403 and "GENERATE_PERSONAL_ACCESS_TOKENS" in response.text


def test_roles_need_manage_policies_and_an_admin_has_it(console: ConsoleApp) -> None:
    """An Admin assigns and removes a user's role; the page shows it as assigned, then gone."""
    target = console.user("target")
    browser = console.signed_in()
    page = f"/console/users/{target.id}"
    assigned = post(browser, page, f"{page}/roles", role="Editor", action="assign")
    assert assigned.headers["location"] == f"{page}?done=assigned"
    assert console.services.roles.of_users([target.id])[target.id].effective == (Role.EDITOR,)
    assert "assigned in scimhub" in browser.get(page).text
    post(browser, page, f"{page}/roles", role="Editor", action="remove")
    assert console.services.roles.of_users([target.id])[target.id].effective == ()


@pytest.mark.parametrize(
    "page", ["/", "/console/sign-in", "/console/no-such-page", "/console/static/console.css"]
)
def test_security_headers_are_on_every_console_response(console: ConsoleApp, page: str) -> None:
    """CSP without inline scripts and frame-ancestors 'none', Referrer-Policy, nosniff; pages not cached."""
    response = console.browser().get(page, follow_redirects=False)
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe" not in CSP
    assert headers["referrer-policy"] == "no-referrer" and headers["x-content-type-options"] == "nosniff"
    if "/static/" not in page:
        assert headers["cache-control"] == "no-store"


def test_security_headers_are_on_signed_in_pages_and_not_on_scim(console: ConsoleApp) -> None:
    """Every page a signed-in admin opens has them; SCIM and the JSON API are left as they were."""
    browser = console.signed_in()
    for page in [*ADMIN_PAGES, "/console/tokens", "/console/me"]:
        assert browser.get(page).headers["content-security-policy"] == CSP, page
    assert "content-security-policy" not in browser.get("/scim/v2/ServiceProviderConfig").headers


def test_every_state_changing_form_needs_the_csrf_token(console: ConsoleApp) -> None:
    """Each console POST without the session's CSRF token (or with another's) is 403 and changes nothing."""
    target = console.user("target")
    group = console.services.groups.create(SYSTEM, GroupEdit({"displayName": "g"}))
    browser = console.signed_in()
    issued, view = console.services.tokens.issue(SYSTEM, UserRef.by_name("admin"), "kept")
    other_token = csrf_of(console.signed_in().get("/console/tokens").text)
    actions = [
        (f"/console/users/{target.id}/active", {"active": "false"}),
        (f"/console/users/{target.id}/roles", {"role": "Admin"}),
        (f"/console/users/{target.id}/reset-link", {}),
        (f"/console/groups/{group.id}/roles", {"role": "Admin"}),
        ("/console/tokens", {"name": "new"}),
        (f"/console/tokens/{view.record.id}/revoke", {}),
        ("/console/sign-out", {}),
    ]
    for action, form in actions:
        for token in (None, "", other_token):
            sent = form | ({"csrf": token} if token is not None else {})
            response = browser.post(action, data=sent, follow_redirects=False)
            assert response.status_code == 403, (action, token)
    hub = console.services
    assert hub.users.get(target.id).user.active
    assert hub.roles.of_users([target.id])[target.id].effective == ()
    assert hub.roles.of_groups([group.id])[group.id] == []
    assert [v.record.name for v in hub.tokens.list(SYSTEM)] == ["kept"]
    assert browser.get("/console/overview").status_code == 200  # still signed in
    assert issued.token not in browser.get("/console/tokens").text
