"""The console's pages over the directory's use cases: tokens, reset links, users, groups, roles, events."""

from __future__ import annotations

import re

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from tests.console.conftest import ConsoleApp, make_token, post, sign_in

RESET_LINK = re.compile(r'data-testid="reset-link">([^<]+)<')


def test_a_new_token_is_shown_once_and_works_for_scim(console: ConsoleApp) -> None:
    """The GET after the POST holds the token (with a warning); no later page does; SCIM accepts it."""
    browser = console.signed_in()
    secret = make_token(browser, name="entra", duration="ONE_WEEK")
    listed = browser.get("/console/tokens").text
    assert "entra" in listed and secret not in listed and 'data-testid="new-token"' not in listed
    scim = console.browser().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    assert scim.status_code == 200


def test_revoking_asks_first_and_then_scim_refuses_the_token(console: ConsoleApp) -> None:
    """The revoke link opens a confirmation; its POST revokes, and SCIM answers 401 from then on."""
    browser = console.signed_in()
    secret = make_token(browser, name="doomed")
    [view] = [v for v in console.services.tokens.list(SYSTEM) if v.record.name == "doomed"]
    page = f"/console/tokens/{view.record.id}/revoke"
    confirm = browser.get(page)
    assert confirm.status_code == 200 and "Revoke the token" in confirm.text
    done = post(browser, page, page)
    assert done.headers["location"] == "/console/tokens?done=revoked"
    scim = console.browser().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    assert scim.status_code == 401


def test_an_administrator_makes_a_token_for_another_user(console: ConsoleApp) -> None:
    """With MANAGE_ACCESS_TOKENS the token can act as another user, named by userName."""
    console.user("entra-service", "Admin", password=None)
    browser = console.signed_in()
    make_token(browser, name="svc", user="entra-service")
    assert [v.actor_urn for v in console.services.tokens.list(SYSTEM)] == ["urn:li:corpuser:entra-service"]


def test_a_reset_link_sets_a_password_once_in_another_browser(console: ConsoleApp) -> None:
    """The admin's link opens in a fresh browser; the password set there signs in; the link is then spent."""
    user = console.user("provisioned", "Reader", password=None)
    admin = console.signed_in()
    page = f"/console/users/{user.id}"
    issued = post(admin, page, f"{page}/reset-link")
    link = RESET_LINK.search(issued.text).group(1)  # type: ignore[union-attr]
    assert link.startswith("http://testserver/console/reset?key=")
    assert link not in admin.get(page).text  # shown once
    other = console.browser()
    form_page = other.get(link)
    assert form_page.status_code == 200 and "provisioned" in form_page.text
    differ = post(
        other, link, "/console/reset", key=link.split("key=")[1], password="p1-password", confirm="p2"
    )
    assert differ.status_code == 400 and "differ" in differ.text
    chosen = post(
        other,
        link,
        "/console/reset",
        key=link.split("key=")[1],
        password="chosen pass",
        confirm="chosen pass",
    )
    assert chosen.headers["location"] == "/console/sign-in?done=password"
    assert sign_in(console.browser(), "provisioned", "chosen pass").status_code == 303
    assert other.get(link).status_code == 404


def test_users_are_searched_by_prefix_status_and_effective_role(console: ConsoleApp) -> None:
    """q matches a prefix of userName, displayName or an email; status and a role (through a group) filter."""
    hub = console.services
    alice = console.user("alice@contoso.example", displayName="Alice Liddell")
    console.user("bob@contoso.example", displayName="Robert", emails=[{"value": "rob@fabrikam.example"}])
    console.user("carol@contoso.example", active=False)
    group = hub.groups.create(
        SYSTEM, GroupEdit({"displayName": "editors"}, MemberChange(add=(Member(alice.id),)))
    )
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", group.id)
    browser = console.signed_in()

    def listed(query: str) -> list[str]:
        html = browser.get(f"/console/users?{query}").text
        return re.findall(r'<a href="/console/users/[0-9a-f]+">([^<]+)</a>', html)

    assert listed("q=ali") == ["alice@contoso.example"]
    assert listed("q=robert") == ["bob@contoso.example"]
    assert listed("q=rob%40fab") == ["bob@contoso.example"]
    assert listed("status=suspended") == ["carol@contoso.example"]
    assert listed("role=Editor") == ["alice@contoso.example"]
    assert listed("role=Admin") == ["admin"]
    assert listed("sort=userName&order=desc")[:2] == ["carol@contoso.example", "bob@contoso.example"]


def test_users_are_paged_on_the_server_by_sort_key(console: ConsoleApp) -> None:
    """Fifty a page; Next and Previous carry the edge row's sort key, so an insert does not shift a page."""
    for index in range(55):
        console.user(f"paged{index:03d}", password=None)
    browser = console.signed_in()

    def names(html: str) -> list[str]:
        return re.findall(r'<a href="/console/users/[0-9a-f]+">([^<]+)</a>', html)

    def link(html: str, rel: str) -> str:
        found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
        assert found, rel
        return "/console/users" + found.group(1).replace("&amp;", "&")

    first = browser.get("/console/users?q=paged").text
    assert "55 user(s)" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert names(first) == [f"paged{index:03d}" for index in range(50)]
    console.user("paged000a", password=None)  # sorts into the first page, after the link was made
    second = browser.get(link(first, "next")).text
    assert names(second) == [f"paged{index:03d}" for index in range(50, 55)]
    assert "56 user(s)" in second and 'rel="next"' not in second
    back = browser.get(link(second, "prev")).text
    assert names(back) == ["paged000a"] + [f"paged{index:03d}" for index in range(1, 50)]
    assert 'rel="prev"' in back  # paged000 lies before it now


def test_a_page_link_serves_only_the_list_it_was_made_for(console: ConsoleApp) -> None:
    """A link's key is signed for its filters: with other filters, or altered, it is a 400 page, not a 500."""
    for index in range(51):
        console.user(f"kept{index:03d}", password=None)
    browser = console.signed_in()
    first = browser.get("/console/users?q=kept").text
    cursor = re.search(r'at=([^"&]+)"', first).group(1)  # type: ignore[union-attr]
    assert browser.get(f"/console/users?q=kept&at={cursor}").status_code == 200
    assert browser.get(f"/console/users?q=kep&at={cursor}").status_code == 400
    assert browser.get(f"/console/users?q=kept&at={cursor}x").status_code == 400
    assert browser.get("/console/users?at=nonsense").status_code == 400


def test_a_group_role_changes_its_members_effective_role(console: ConsoleApp) -> None:
    """Assigning a role on a group's page shows on a member's page as inherited, with the group."""
    hub = console.services
    member = console.user("member", password=None)
    group = hub.groups.create(
        SYSTEM, GroupEdit({"displayName": "admins"}, MemberChange(add=(Member(member.id),)))
    )
    browser = console.signed_in()
    page = f"/console/groups/{group.id}"
    assert post(browser, page, f"{page}/roles", role="Admin").headers["location"] == f"{page}?done=assigned"
    shown = browser.get(f"/console/users/{member.id}").text
    assert "inherited from group" in shown and "admins" in shown
    assert re.search(r"Effective: <span class=\"badge role\">Admin</span>", shown)
    assert "member" in browser.get(page).text and "1" in browser.get("/console/groups?q=adm").text


def test_suspending_from_the_console_writes_the_same_event_as_scim(console: ConsoleApp) -> None:
    """Suspend is a SCIM-equivalent write: a LIFECYCLE SOFT_DELETE by the admin; reactivate a REINSTATE."""
    user = console.user("suspendee", password=None)
    browser = console.signed_in()
    page = f"/console/users/{user.id}"
    assert (
        post(browser, page, f"{page}/active", active="false").headers["location"] == f"{page}?done=suspended"
    )
    assert (
        post(browser, page, f"{page}/active", active="false").headers["location"] == f"{page}?done=unchanged"
    )
    post(browser, page, f"{page}/active", active="true")
    events = browser.get(f"/console/events?entity={user.urn}&category=LIFECYCLE").text
    assert "LIFECYCLE SOFT_DELETE" in events and "LIFECYCLE REINSTATE" in events
    assert "urn:li:corpuser:admin" in events


def test_the_roles_page_lists_privileges_and_holders(console: ConsoleApp) -> None:
    """Each role with its privileges, direct holders and the count of effective holders."""
    console.user("an-editor", "Editor", password=None)
    html = console.signed_in().get("/console/roles").text
    assert "MANAGE_ACCESS_TOKENS" in html and "GENERATE_PERSONAL_ACCESS_TOKENS" in html
    assert "an-editor" in html and "(provisioned)" in html


def test_the_overview_counts_and_shows_the_tenant_url(console: ConsoleApp) -> None:
    """Users, suspended, groups and role holders are counted; the Tenant URL is DataHub's path."""
    console.user("one", password=None)
    console.user("two", password=None, active=False)
    console.counted()
    html = console.signed_in().get("/console/overview").text
    assert "http://testserver/gms/openapi/scim/v2" in html
    assert re.search(r"<dt>Users</dt><dd><a [^>]+>3</a>", html)
    assert re.search(r"<dt>Suspended</dt><dd><a [^>]+>1</a>", html)
    assert "A token for provisioning exists" in html


def test_bad_input_is_a_page_with_its_status_never_a_500(console: ConsoleApp) -> None:
    """An unknown user or group is 404; a bad role, category, time or offset, or too long a search, is 400."""
    browser = console.signed_in()
    cases = {
        "/console/users/nope": 404,
        "/console/groups/nope": 404,
        "/console/tokens/nope/revoke": 404,
        "/console/users?role=Owner": 400,
        "/console/users?q=" + "x" * 300: 400,
        "/console/events?category=NOPE": 400,
        "/console/events?since=yesterday": 400,
        "/console/events?before=garbage": 400,
    }
    for page, status in cases.items():
        response = browser.get(page)
        assert response.status_code == status, (page, response.text[:300])
        assert 'role="alert"' in response.text
