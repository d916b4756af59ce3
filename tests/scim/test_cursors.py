"""Paging cursors (RFC 9865, ADR 0035): opaque, signed, bound to their query, expiring; and their pages."""

from __future__ import annotations

import base64
import re
from decimal import Decimal

import orjson
import pytest

from scimhub.errors import ExpiredCursor, InvalidCursor, InvalidValue
from scimhub.query.pages import Page, Query, Seek
from scimhub.scim.cursors import Cursors, Position, cursor_key, query_scope
from scimhub.scim.paging import cursor_list_response, neighbours, seek_query

KEY = cursor_key(b"a token signing key of at least thirty-two bytes")
SCOPE = query_scope("User", 'userName sw "a"', "userName", False)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cursors(clock: Clock | None = None, key: bytes = KEY, timeout: int = 600) -> Cursors:
    return Cursors(key, timeout, clock or Clock())


@pytest.mark.parametrize(
    "position",
    [
        Position(None),
        Position(None, backward=True),
        Position(("alice", "9f0c")),
        Position((True, None, "id-1"), backward=True),
        Position((False, "ÅSA ☃", "id-2")),
        Position((3, 2.5, Decimal("12.50"), "id")),
    ],
)
def test_a_cursor_reads_back_as_the_position_it_was_issued_for(position: Position) -> None:
    """Text in any script, numbers, decimals, booleans, NULLs and the direction survive the round trip."""
    issuer = cursors()
    assert issuer.read(SCOPE, issuer.issue(SCOPE, position)) == position


def test_a_cursor_holds_only_unreserved_characters() -> None:
    """RFC 9865 §2: a cursor may only hold RFC 3986 unreserved characters (safe in a query string)."""
    cursor = cursors().issue(SCOPE, Position(("ü/?&=+ #", "id")))
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", cursor)


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_any_edited_character_makes_the_cursor_invalid() -> None:
    """Changing one character anywhere, payload or signature, is refused as invalidCursor."""
    issuer = cursors()
    cursor = issuer.issue(SCOPE, Position(("alice", "id-1")))
    for at in range(len(cursor)):
        if cursor[at] == ".":
            continue
        with pytest.raises(InvalidCursor):
            issuer.read(SCOPE, _flip(cursor, at))


def test_a_forged_payload_with_the_old_signature_is_refused() -> None:
    """A client rewriting the position (to jump ahead, or to push its expiry) cannot re-sign it."""
    issuer = cursors()
    cursor = issuer.issue(SCOPE, Position(("alice", "id-1")))
    _, signature = cursor.split(".")
    forged = base64.urlsafe_b64encode(orjson.dumps([1, False, 4_000_000_000, ["zed", "id-9"]])).rstrip(b"=")
    with pytest.raises(InvalidCursor):
        issuer.read(SCOPE, forged.decode() + "." + signature)


@pytest.mark.parametrize("cursor", ["abc", ".", "x.y", "%%%.%%%", "WzFd", "é.é", "a" * 500])
def test_malformed_cursors_are_invalid(cursor: str) -> None:
    """Whatever a client sends that this server did not issue is invalidCursor, never a 500."""
    with pytest.raises(InvalidCursor):
        cursors().read(SCOPE, cursor)


def test_a_cursor_serves_only_the_query_it_was_issued_for() -> None:
    """Another filter, sortBy, sortOrder or resource type makes the cursor invalid (RFC 9865 §2)."""
    issuer = cursors()
    cursor = issuer.issue(SCOPE, Position(("alice", "id-1")))
    for other in (
        query_scope("User", 'userName sw "b"', "userName", False),
        query_scope("User", 'userName sw "a"', "displayName", False),
        query_scope("User", 'userName sw "a"', "userName", True),
        query_scope("Group", 'userName sw "a"', "userName", False),
    ):
        with pytest.raises(InvalidCursor):
            issuer.read(other, cursor)


def test_a_cursor_signed_with_another_key_is_invalid() -> None:
    """Another server (another token signing key) cannot mint cursors this one accepts."""
    cursor = cursors(key=cursor_key(b"another signing key, also thirty-two bytes")).issue(
        SCOPE, Position(None)
    )
    with pytest.raises(InvalidCursor):
        cursors().read(SCOPE, cursor)


def test_every_process_with_the_same_signing_key_reads_the_cursor() -> None:
    """The key is derived from the token signing key alone: two processes sharing it share cursors."""
    cursor = Cursors(cursor_key(b"shared" * 8), 600).issue(SCOPE, Position(("x", "1")))
    assert Cursors(cursor_key(b"shared" * 8), 600).read(SCOPE, cursor) == Position(("x", "1"))


def test_a_cursor_expires_after_the_timeout() -> None:
    """Valid up to cursorTimeout seconds after it was issued; a second later, expiredCursor."""
    clock = Clock()
    issuer = cursors(clock, timeout=600)
    cursor = issuer.issue(SCOPE, Position(("alice", "id-1")))
    clock.now += 600
    assert issuer.read(SCOPE, cursor) == Position(("alice", "id-1"))
    clock.now += 1
    with pytest.raises(ExpiredCursor, match="600 seconds"):
        issuer.read(SCOPE, cursor)


def test_an_expired_cursor_that_was_tampered_with_is_invalid_not_expired() -> None:
    """The signature is checked first: an edited cursor never learns whether it had expired."""
    clock = Clock()
    issuer = cursors(clock)
    cursor = issuer.issue(SCOPE, Position(None))
    clock.now += 10_000
    with pytest.raises(InvalidCursor):
        issuer.read(SCOPE, _flip(cursor, 3))


def test_a_value_no_cursor_can_carry_is_refused() -> None:
    """A sort key of a type JSON cannot hold says which sort to use instead, as a 400."""
    with pytest.raises(InvalidValue, match="sort by another attribute"):
        cursors().issue(SCOPE, Position((object(), "id")))


def test_a_timeout_below_one_second_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Cursors(KEY, 0)


def test_only_the_first_page_counts_every_match() -> None:
    """The first page asks for the total (totalResults); later ones read no more than themselves."""
    query = Query(limit=10, offset=30)
    assert seek_query(query, Position(None)) == Query(limit=10, seek=Seek(None, False, True))
    assert seek_query(query, Position(("k",))).seek == Seek(("k",), False, False)
    assert seek_query(query, Position(None, True)).seek == Seek(None, True, False)


def _page(keys: list[tuple[str]], more: bool, total: int = -1) -> Page[str]:
    return Page(total, [k[0] for k in keys], keys, more)


def test_the_first_page_points_forward_only() -> None:
    assert neighbours(_page([("a",), ("b",)], more=True), Position(None)) == (Position(("b",)), None)
    assert neighbours(_page([("a",)], more=False), Position(None)) == (None, None)


def test_a_middle_page_points_both_ways_from_its_ends() -> None:
    page = _page([("c",), ("d",)], more=True)
    assert neighbours(page, Position(("b",))) == (Position(("d",)), Position(("c",), backward=True))


def test_the_last_page_has_no_next_cursor() -> None:
    """RFC 9865 §2: nextCursor is left out only on the last page."""
    page = _page([("y",), ("z",)], more=False)
    assert neighbours(page, Position(("x",))) == (None, Position(("y",), backward=True))


def test_an_empty_page_past_the_end_points_back_to_the_last_page() -> None:
    """Every row after the cursor was deleted: previousCursor reads the last page from the end."""
    assert neighbours(_page([], more=False), Position(("x",))) == (None, Position(None, backward=True))


def test_a_page_read_backward_points_forward_from_its_last_row() -> None:
    page = _page([("c",), ("d",)], more=True)
    assert neighbours(page, Position(("e",), backward=True)) == (Position(("d",)), Position(("c",), True))
    first = _page([("a",), ("b",)], more=False)
    assert neighbours(first, Position(("c",), backward=True)) == (Position(("b",)), None)
    assert neighbours(_page([], more=False), Position(("a",), backward=True)) == (Position(None), None)
    last = _page([("y",), ("z",)], more=True)
    assert neighbours(last, Position(None, backward=True)) == (None, Position(("y",), True))


def test_a_cursor_list_response_has_cursors_and_no_start_index() -> None:
    """The ListResponse of RFC 9865 §2: totalResults on the counted page, cursors, Resources."""
    document = cursor_list_response([{"id": "a"}], _page([("a",)], more=True, total=5), Position(None), str)
    assert document == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 5,
        "itemsPerPage": 1,
        "nextCursor": str(Position(("a",))),
        "Resources": [{"id": "a"}],
    }
    later = cursor_list_response([], _page([], more=False), Position(("a",)), str)
    assert "totalResults" not in later and "nextCursor" not in later and "previousCursor" in later
