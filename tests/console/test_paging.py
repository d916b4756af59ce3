"""The console at scale: a group's members paged by member id, and counts read at most every TTL seconds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from scimhub.console.counts import CountCache, Counts
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.query.pages import Walk
from tests.console.conftest import ConsoleApp


def _members(html: str) -> list[str]:
    return re.findall(r'<a href="/console/users/([0-9a-f]+)">', html.split('id="members-h"')[1])


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_a_groups_members_are_paged_by_member_id(console: ConsoleApp) -> None:
    """120 members: 50, 50, 20 in member id order by Next; Previous walks back; none skipped or repeated."""
    ids = sorted(console.user(f"member{index:03d}", password=None).id for index in range(120))
    change = MemberChange(add=tuple(Member(member_id) for member_id in ids))
    group = console.services.groups.create(SYSTEM, GroupEdit({"displayName": "many"}, change))
    browser = console.signed_in()
    page = f"/console/groups/{group.id}"
    pages = [browser.get(page).text]
    while (forward := _link(pages[-1], "next")) is not None:
        pages.append(browser.get(page + forward).text)
    assert [len(_members(html)) for html in pages] == [50, 50, 20]
    assert [m for html in pages for m in _members(html)] == ids
    assert _link(pages[0], "prev") is None and "120" in pages[0]
    back = browser.get(page + str(_link(pages[2], "prev"))).text
    assert _members(back) == ids[50:100] and _link(back, "prev") is not None


def test_a_member_page_start_that_is_no_position_is_a_400(console: ConsoleApp) -> None:
    """``at`` is ``after:ID`` or ``before:ID``: anything else is a 400 page, as a bad search is."""
    group = console.services.groups.create(SYSTEM, GroupEdit({"displayName": "g"}, MemberChange()))
    browser = console.signed_in()
    for bad in ("sideways:x", "after:", "x" * 10, "after:" + "x" * 300):
        assert browser.get(f"/console/groups/{group.id}", params={"at": bad}).status_code == 400, bad
    assert "No members." in browser.get(f"/console/groups/{group.id}", params={"at": "before:"}).text


def test_counts_are_read_in_the_background_and_again_only_after_their_ttl(console: ConsoleApp) -> None:
    """No page waits for a reading: it gets the last one and asks for a new one once it is ``ttl`` old."""
    now, started = [1_000.0], []
    cache = CountCache(console.services, ttl=30, clock=lambda: now[0], run=started.append)
    assert cache.get() is None and started == [cache.refresh]  # the first reading: asked for, not waited for
    assert cache.get() is None and len(started) == 1  # one reading at a time
    first = started.pop()()
    assert first is not None and cache.get() == first and first.read_at == 1_000_000_000
    console.user("late", "Editor", password=None, active=False)
    now[0] += 29.9
    assert cache.get() == first and not started
    now[0] += 0.1
    assert cache.get() == first and len(started) == 1  # served the last reading while the new one runs
    again = started.pop()()
    assert again is not None and cache.get() == again
    assert (again.users, again.suspended) == (first.users + 1, first.suspended + 1)
    assert again.holders[Role.EDITOR] == first.holders[Role.EDITOR] + 1
    assert again.read_at == 1_030_000_000


def test_a_reading_started_earlier_never_replaces_a_later_one(console: ConsoleApp) -> None:
    now = [1_000.0]
    cache = CountCache(console.services, clock=lambda: now[0], run=lambda work: None)
    now[0] = 2_000.0
    later = cache.refresh()
    now[0] = 1_500.0  # a slow reading, started before, ending after
    assert cache.refresh() == later and cache.get() == later


def test_a_failed_reading_keeps_the_last_one_and_is_asked_for_again(
    console: ConsoleApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started: list[Any] = []
    cache = CountCache(console.services, ttl=0, run=started.append)
    kept = cache.refresh()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("the database went away"))

    monkeypatch.setattr(console.services.users, "search", broken)
    assert cache.get() == kept and len(started) == 1
    assert started.pop()() == kept and "could not be read" in caplog.text
    assert cache.get() == kept and len(started) == 1  # asked for again, not stuck "reading"


def test_the_walk_is_offered_for_a_role_whose_page_is_likely_near(console: ConsoleApp) -> None:
    """A role held by h of n users: walk twice p·n/h users, at most h, when a page of p is likely within h;
    with the role's sample for the list's order when that walk costs over an eighth of reading the holders."""
    holders = {Role.ADMIN: 5, Role.EDITOR: 10_000, Role.READER: 7_000}
    editors = {"meta.created": (1, 2, 3), "userName": ("a", "b")}
    counts = Counts(1_000_000, 0, 2, holders, {Role.EDITOR: editors}, 0)
    # 5,100 users expected before a page of 51: at most h, with the sample of the order asked for.
    assert counts.role_walk(Role.EDITOR, "meta.created", 51) == Walk(10_000, 10_000, (1, 2, 3))
    assert counts.role_walk(Role.EDITOR, "userName", 26) == Walk(5_200, 10_000, ("a", "b"))  # twice 2,600
    assert counts.role_walk(Role.EDITOR, "meta.lastModified", 26) == Walk(5_200, 10_000, ())  # none drawn
    assert counts.role_walk(Role.EDITOR, "meta.created", 5) == Walk(1_000, 10_000, ())  # h / 10: no sample
    assert counts.role_walk(Role.READER, "userName", 51) is None  # 7,286 expected: read the 7,000 holders
    assert counts.role_walk(Role.ADMIN, "userName", 51) is None


def test_before_the_first_reading_the_pages_say_counting(console: ConsoleApp) -> None:
    """A page never waits for the counts: before the first reading it says so, after it shows them."""
    console.app.state.console.counts = CountCache(console.services, run=lambda work: None)  # never read
    browser = console.signed_in()
    overview = browser.get("/console/overview").text
    assert "Counting: the first count" in overview and "Counted at" not in overview
    assert "counting… user(s)" in browser.get("/console/users?role=Editor").text
    assert "counting… user(s) hold it" in browser.get("/console/roles").text
    console.counted()
    assert "Counted at" in browser.get("/console/overview").text


def test_the_overview_and_the_unfiltered_list_say_when_they_counted(console: ConsoleApp) -> None:
    """A cached count is shown with the time it was read; a search's count is exact, with no time."""
    browser = console.signed_in()
    console.counted()
    assert re.search(r"Counted at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", browser.get("/console/overview").text)
    assert "(counted at " in browser.get("/console/users").text
    assert "(counted at " in browser.get("/console/users?role=Admin").text
    assert "(counted at " not in browser.get("/console/users?q=adm").text


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/console/users/[0-9a-f]+">([^<]+)</a>', html)


def test_a_common_roles_list_pages_by_the_walk_through_nested_groups(console: ConsoleApp) -> None:
    """Editor held by 60 of 64 users (directly, provisioned, through a group in a group): the counts
    make the page a walk (ADR 0045); Next and Previous go through every holder once, in order."""
    hub = console.services
    made = [console.user(f"e{index:03d}", password=None) for index in range(60)]
    for user in made[:20]:
        hub.roles.assign(SYSTEM, Role.EDITOR, "user", user.id)
    inner = hub.groups.create(
        SYSTEM,
        GroupEdit({"displayName": "inner"}, MemberChange(add=tuple(Member(user.id) for user in made[20:50]))),
    )
    outer = hub.groups.create(
        SYSTEM, GroupEdit({"displayName": "outer"}, MemberChange(add=(Member(inner.id),)))
    )
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", outer.id)
    for user in made[50:]:  # provisioned by the SCIM client
        hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "roles": [{"value": "Editor"}]}))
    for index in range(3):
        console.user(f"none{index}", password=None)
    console.counted()
    counts = console.app.state.console.counts.get()
    walk = counts.role_walk(Role.EDITOR, "userName", 51)
    assert walk is not None and walk.rows > 0 and len(walk.sample) == 60  # the walk is what this list takes
    browser = console.signed_in()
    first = browser.get("/console/users?role=Editor").text
    expected = [f"e{index:03d}" for index in range(60)]
    assert "60 user(s)" in first and "(counted at " in first
    second = browser.get("/console/users" + str(_link(first, "next"))).text
    assert _names(first) + _names(second) == expected and _link(second, "next") is None
    back = browser.get("/console/users" + str(_link(second, "prev"))).text
    assert _names(back) == expected[:50] and _link(back, "prev") is None


def test_a_roles_direct_holders_are_paged_by_id(console: ConsoleApp) -> None:
    """The Roles page shows the first ten of each kind; the role's page lists them all, 50 a page."""
    hub = console.services
    holders = sorted(console.user(f"reader{index:03d}", "Reader", password=None).id for index in range(55))
    group = hub.groups.create(SYSTEM, GroupEdit({"displayName": "readers"}, MemberChange()))
    hub.roles.assign(SYSTEM, Role.READER, "group", group.id)
    browser = console.signed_in()
    roles = browser.get("/console/roles").text
    reader = roles.split('id="role-Reader"')[1]
    assert len(re.findall(r"<li>user <a", reader)) == 10 and 'href="/console/roles/Reader"' in reader
    assert "readers</a>: its members inherit it" in reader and "?kind=group" not in reader

    def ids(html: str, kind: str = "users") -> list[str]:
        return re.findall(rf'<a href="/console/{kind}/([0-9a-f]+)">', html.split('id="holders-h"')[1])

    first = browser.get("/console/roles/Reader").text
    assert ids(first) == holders[:50] and "provisioned" in first and _link(first, "prev") is None
    second = browser.get("/console/roles/Reader" + str(_link(first, "next"))).text
    assert ids(second) == holders[50:] and _link(second, "next") is None
    assert ids(browser.get("/console/roles/Reader" + str(_link(second, "prev"))).text) == holders[:50]
    assert ids(browser.get("/console/roles/Reader?kind=group").text, "groups") == [group.id]
    assert len(ids(browser.get("/console/roles/Admin").text)) == 1  # the built-in admin
    assert browser.get("/console/roles/Owner").status_code == 404
    assert browser.get("/console/roles/Reader?kind=robot").status_code == 400


def test_a_reading_samples_the_roles_held_by_few_enough(
    console: ConsoleApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each order's sample is what it sorts by, ascending; a role held by more than SAMPLED_AT_MOST is not."""
    for index in range(4):
        console.user(f"reader{index}", "Reader", password=None)
    console.user("editor", "Editor", password=None)
    monkeypatch.setattr("scimhub.console.counts.SAMPLED_AT_MOST", 3)
    counts = console.app.state.console.counts.refresh()
    assert Role.READER not in counts.samples and counts.samples[Role.ADMIN]["userName"] == ("admin",)
    assert counts.samples[Role.EDITOR]["userName"] == ("editor",)
    assert len(counts.samples[Role.EDITOR]["meta.created"]) == 1
