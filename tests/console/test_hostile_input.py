"""Hostile input at the console, on both engines: a client's error, never a 500 and never stored.

Adversarial runs (session 40) found that the console, unlike SCIM and the JSON API, handed a NUL
(U+0000) in a path, a query or a form to the database: PostgreSQL refused it with a 500, SQLite
stored it in a token's name. ``ConsoleEdge`` now refuses it once, for every page (ADR 0021). They
also found page numbers, feed cursors and token names that the database could not take.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from scimhub.console.http import MAX_FORM_BYTES, ConsoleEdge
from scimhub.console.users import MAX_PAGE
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.domain.tokens import MAX_NAME
from scimhub.feed.offsets import MAX_SEQ, encode_offset
from tests.console.conftest import ADMIN_PASSWORD, ConsoleApp, csrf_of, post, sign_in

NUL_PAGES = [
    "/console/users?q=%00",
    "/console/users?q=a%00b",
    "/console/groups?q=%00",
    "/console/users/%00",
    "/console/groups/%00",
    "/console/events?entity=%00",
    "/console/events?actor=%00",
    "/console/events?a%00=1",
    "/console/tokens/%00/revoke",
]


def assert_refused(response: Any, named: str) -> None:
    """A 400 page that names the NUL and where it was, with the console's security headers."""
    assert response.status_code == 400, response.text[:500]
    assert "NUL character" in response.text and named in response.text, response.text[:2000]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_a_nul_in_the_sign_in_form_is_refused_before_anything_reads_it(console: ConsoleApp) -> None:
    """Signed out, a user name with a NUL is a 400 (a 500 on PostgreSQL before); the form still works."""
    browser = console.browser()
    token = csrf_of(browser.get("/console/sign-in").text)
    form = {"username": "\x00admin", "password": "x", "csrf": token}
    assert_refused(browser.post("/console/sign-in", data=form), "form field &#39;username&#39;")
    assert sign_in(browser, "admin", ADMIN_PASSWORD).status_code == 303


@pytest.mark.parametrize("page", NUL_PAGES)
def test_a_nul_in_a_pages_path_or_query_is_refused(console: ConsoleApp, page: str) -> None:
    """Each page a signed-in user opens with a NUL in its path or query answers 400 naming it."""
    named = "request path" if "?" not in page else "query parameter"
    assert_refused(console.signed_in().get(page), named)


def test_a_nul_in_a_form_is_refused_and_changes_nothing(console: ConsoleApp) -> None:
    """A token named with a NUL is not made (SQLite stored it before); so for a field's name."""
    browser = console.signed_in()
    for form in ({"name": "nul\x00name"}, {"name": "fine", "description": "a\x00"}, {"na\x00me": "x"}):
        assert_refused(post(browser, "/console/tokens", "/console/tokens", **form), "form field")
    assert [v.record.name for v in console.services.tokens.list(SYSTEM)] == []


@pytest.mark.parametrize(
    "content_type",
    [b"application/x-www-form-urlencoded\xa0", b"application/x-www-form-urlencoded\x85", b"text/plain"],
)
def test_a_form_is_checked_whatever_its_content_type_says(console: ConsoleApp, content_type: bytes) -> None:
    """A Content-Type the page reads as a form (its trailing U+00A0 stripped) is checked all the same.

    Session 40's second adversarial run sent a NUL past the first version of the check this way.
    """
    browser = console.signed_in()
    token = csrf_of(browser.get("/console/tokens").text)
    body = f"csrf={token}&name=nul%00name".encode()
    response = browser.post("/console/tokens", content=body, headers={"content-type": content_type})
    assert_refused(response, "form field")
    assert console.services.tokens.list(SYSTEM) == []


def test_a_token_name_past_its_limit_is_refused_and_changes_nothing(console: ConsoleApp) -> None:
    """The name's limit is the use case's (``MAX_NAME``), as for the JSON API: a 400 page, no token."""
    browser = console.signed_in()
    response = post(browser, "/console/tokens", "/console/tokens", name="n" * (MAX_NAME + 1))
    assert response.status_code == 400 and f"at most {MAX_NAME} characters" in response.text
    assert console.services.tokens.list(SYSTEM) == []
    padded = post(browser, "/console/tokens", "/console/tokens", name=f"  {'n' * MAX_NAME}  ")
    assert padded.status_code == 303  # measured trimmed, as the JSON API and the CLI measure it


def test_a_nul_in_an_actions_path_is_refused(console: ConsoleApp) -> None:
    """The POST of an action on a user whose id holds a NUL: 400, not the database's error."""
    browser = console.signed_in()
    for action in ("active", "roles", "reset-link"):
        response = post(browser, "/console/users", f"/console/users/%00/{action}", active="false")
        assert_refused(response, "request path")


@pytest.mark.parametrize("page", ["/console/groups", "/console/groups?q=a"])
def test_a_page_past_any_offset_is_an_empty_page(console: ConsoleApp, page: str) -> None:
    """Page 42,949,674 (an offset past 2^31) was a 500 on PostgreSQL: it is the last page, empty."""
    console.services.groups.create(SYSTEM, GroupEdit({"displayName": "alpha-team"}))
    response = console.signed_in().get(page, params={"page": "42949674"})
    assert response.status_code == 200, response.text[:500]
    assert f"Groups, page {MAX_PAGE}<" in response.text and "alpha-team" not in response.text


@pytest.mark.parametrize("number", ["²", "①", "¹²", "٣"])
def test_a_page_number_of_other_digits_is_the_first_page(console: ConsoleApp, number: str) -> None:
    """Digits str.isdigit admits but int refuses (or reads) were a 500: not a number, so page 1."""
    console.services.groups.create(SYSTEM, GroupEdit({"displayName": "alpha-team"}))
    response = console.signed_in().get("/console/groups", params={"page": number})
    assert response.status_code == 200, response.text[:500]
    assert "Groups, page 1<" in response.text and "alpha-team" in response.text


def test_an_events_cursor_past_any_seq_is_a_400(console: ConsoleApp) -> None:
    """The events page's ``before`` cursor edited to a seq of 2^63: refused as malformed (a 500 before)."""
    browser = console.signed_in()
    with console.services.store.read() as tx:
        stream = tx.events.state().stream
    response = browser.get("/console/events", params={"before": encode_offset(stream, MAX_SEQ + 1)})
    assert response.status_code == 400 and "not an offset this server issued" in response.text


def test_a_form_read_ahead_reaches_the_page_as_it_came() -> None:
    """The edge reads a form in its chunks and hands the page the same messages, then the rest."""
    chunks: list[Message] = [
        {"type": "http.request", "body": b"name=a", "more_body": True},
        {"type": "http.request", "body": b"&description=b", "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert asyncio.run(_through_edge(chunks)) == chunks


def test_a_form_too_large_to_check_goes_on_unread() -> None:
    """Past ``MAX_FORM_BYTES`` the edge stops reading: the page gets every chunk, and refuses the form."""
    chunks: list[Message] = [
        {"type": "http.request", "body": b"x" * MAX_FORM_BYTES, "more_body": True},
        {"type": "http.request", "body": b"x\x00", "more_body": True},
        {"type": "http.request", "body": b"tail", "more_body": False},
    ]
    assert asyncio.run(_through_edge(chunks)) == chunks


async def _through_edge(chunks: list[Message]) -> list[Message]:
    """Send a urlencoded POST in ``chunks`` through a ``ConsoleEdge``; return what its page received."""
    pending, seen = list(chunks), []

    async def receive() -> Message:
        return pending.pop(0)

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in chunks:
            seen.append(await receive())

    async def send(message: Message) -> None:
        pass

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/console/tokens",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    await ConsoleEdge(page, None)(scope, receive, send)  # type: ignore[arg-type] - never renders
    return seen
