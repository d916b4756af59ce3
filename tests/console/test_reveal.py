"""A new token by Post/Redirect/Get (ADR 0048): the POST seals it, the GET after it shows it once."""

from __future__ import annotations

import base64

from sqlalchemy import select

from scimhub.console.tokens import REVEAL_COOKIE
from scimhub.store.sql.tables import console_sessions, metadata
from tests.console.conftest import NEW_TOKEN, ConsoleApp, post


def _set_cookie(response_headers: list[str], name: str) -> str:
    [cookie] = [c for c in response_headers if c.startswith(f"{name}=")]
    return cookie


def test_the_post_answers_303_without_the_token_and_the_get_shows_it_once(console: ConsoleApp) -> None:
    """303 to the tokens page with a pad cookie; the GET shows the token and expires the pad; a reload not."""
    browser = console.signed_in()
    made = post(browser, "/console/tokens", "/console/tokens", name="entra")
    assert made.status_code == 303 and made.headers["location"] == "/console/tokens"
    assert made.headers["cache-control"] == "no-store" and "new-token" not in made.text
    cookie = _set_cookie(made.headers.get_list("set-cookie"), REVEAL_COOKIE).lower()
    assert {"httponly", "samesite=strict", "path=/console/tokens", "max-age=120"} <= {
        part.strip() for part in cookie.split(";")
    }
    shown = browser.get("/console/tokens", follow_redirects=False)
    token = NEW_TOKEN.search(shown.text)
    assert shown.status_code == 200 and token is not None and "shown this once" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert token.group(1) not in made.text and token.group(1) not in made.headers["location"]
    expired = _set_cookie(shown.headers.get_list("set-cookie"), REVEAL_COOKIE).lower()
    assert "max-age=0" in expired and "path=/console/tokens" in expired
    assert REVEAL_COOKIE not in browser.cookies
    again = browser.get("/console/tokens")
    assert again.status_code == 200 and token.group(1) not in again.text and "new-token" not in again.text


def test_a_reload_with_the_old_pad_shows_nothing(console: ConsoleApp) -> None:
    """Even a browser that kept the pad cookie gets the token once: the row was cleared by the first GET."""
    browser = console.signed_in()
    post(browser, "/console/tokens", "/console/tokens", name="entra")
    pad = browser.cookies[REVEAL_COOKIE]
    assert NEW_TOKEN.search(browser.get("/console/tokens").text)
    browser.cookies.set(REVEAL_COOKIE, pad, path="/console/tokens")
    assert NEW_TOKEN.search(browser.get("/console/tokens").text) is None


def test_the_database_never_holds_the_token(console: ConsoleApp) -> None:
    """Between the POST and the GET, no column of any table holds the token, in clear or in base64."""
    browser = console.signed_in()
    post(browser, "/console/tokens", "/console/tokens", name="entra")
    with console.services.engine.connect() as connection:
        dump = repr([connection.execute(select(table)).all() for table in metadata.sorted_tables])
        [sealed] = connection.execute(
            select(console_sessions.c.sealed).where(console_sessions.c.sealed.is_not(None))
        ).scalars()
    token = NEW_TOKEN.search(browser.get("/console/tokens").text).group(1)  # type: ignore[union-attr]
    assert token not in dump and base64.b64encode(token.encode()).decode()[:40] not in dump
    assert token.encode() not in base64.b64decode(sealed)
    with console.services.engine.connect() as connection:  # the GET cleared it
        assert (
            connection.execute(
                select(console_sessions.c.sealed).where(console_sessions.c.sealed.is_not(None))
            ).all()
            == []
        )


def test_a_pad_from_another_session_reveals_nothing(console: ConsoleApp) -> None:
    """Session B holding A's pad (same lengths: the XOR fits) sees neither token; A's GET still shows A's."""
    first, second = console.signed_in(), console.signed_in()
    post(first, "/console/tokens", "/console/tokens", name="alpha")
    post(second, "/console/tokens", "/console/tokens", name="bravo")
    pad = first.cookies[REVEAL_COOKIE]
    second.cookies.delete(REVEAL_COOKIE)  # its own pad: replaced, not sent alongside
    second.cookies.set(REVEAL_COOKIE, pad, path="/console/tokens")
    crossed = second.get("/console/tokens")
    assert crossed.status_code == 200 and NEW_TOKEN.search(crossed.text) is None
    assert NEW_TOKEN.search(first.get("/console/tokens").text) is not None


def test_a_pad_without_a_session_reveals_nothing(console: ConsoleApp) -> None:
    """A signed-out browser with the pad goes to the sign-in page; the token stays sealed."""
    browser = console.signed_in()
    post(browser, "/console/tokens", "/console/tokens", name="entra")
    stranger = console.browser()
    stranger.cookies.set(REVEAL_COOKIE, browser.cookies[REVEAL_COOKIE], path="/console/tokens")
    assert stranger.get("/console/tokens", follow_redirects=False).headers["location"] == "/console/sign-in"
    assert NEW_TOKEN.search(browser.get("/console/tokens").text) is not None
