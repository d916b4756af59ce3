"""The console at scale: a group's members paged by member id, and counts read at most every TTL seconds."""

from __future__ import annotations

import re

from scimhub.console.counts import CountCache
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
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


def test_counts_are_read_again_only_after_their_ttl(console: ConsoleApp) -> None:
    """The cache serves one reading for ``ttl`` seconds, then reads the database again."""
    now = [1_000.0]
    cache = CountCache(console.services, ttl=30, clock=lambda: now[0])
    first = cache.get()
    console.user("late", "Editor", password=None, active=False)
    now[0] += 29.9
    assert cache.get() == first
    now[0] += 0.1
    again = cache.get()
    assert (again.users, again.suspended) == (first.users + 1, first.suspended + 1)
    assert again.holders[Role.EDITOR] == first.holders[Role.EDITOR] + 1
    assert again.read_at == 1_030_000_000


def test_the_overview_and_the_unfiltered_list_say_when_they_counted(console: ConsoleApp) -> None:
    """A cached count is shown with the time it was read; a search's count is exact, with no time."""
    browser = console.signed_in()
    assert re.search(r"Counted at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", browser.get("/console/overview").text)
    assert "(counted at " in browser.get("/console/users").text
    assert "(counted at " in browser.get("/console/users?role=Admin").text
    assert "(counted at " not in browser.get("/console/users?q=adm").text
