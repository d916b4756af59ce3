"""Cursor paging (RFC 9865): a search's position → a keyset query, and a page → its ListResponse.

``startIndex`` paging is untouched (``listing.py``); a request with a ``cursor``
parameter, empty for the first page, pages by sort key instead (ADR 0035).
Only the first page counts every match (``totalResults``); the pages after it
read no more than themselves, so listing a million users costs a million rows
read once, not a count per page (RFC 9865 §2 lets a provider omit the total).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from scimhub.query.pages import Page, Query, Seek
from scimhub.query.schema import LIST_RESPONSE
from scimhub.scim.cursors import Position


def seek_query(query: Query, position: Position) -> Query:
    """Return ``query`` reading the page at ``position``; only the first page counts every match."""
    first = position.key is None and not position.backward
    return replace(query, offset=0, seek=Seek(position.key, position.backward, count=first))


def neighbours(page: Page[Any], position: Position) -> tuple[Position | None, Position | None]:
    """Return where the pages after and before ``page`` (read at ``position``) start; None: no such page.

    A page read forward has a next page when the store found a row beyond it, and
    a previous one unless it is the first. An empty page past the end points back
    to the last page; one before the start (read backward) forward to the first.
    """
    keys = page.keys
    if not position.backward:
        after = Position(keys[-1]) if page.more else None
        if position.key is None:
            return after, None
        return after, Position(keys[0], backward=True) if keys else Position(None, backward=True)
    before = Position(keys[0], backward=True) if page.more else None
    if position.key is None:  # the last page: nothing follows it
        return None, before
    return (Position(keys[-1]) if keys else Position(None)), before


def cursor_list_response(
    resources: Sequence[dict[str, Any]],
    page: Page[Any],
    position: Position,
    issue: Callable[[Position], str],
) -> dict[str, Any]:
    """Return the ListResponse of a cursor page (RFC 9865 §2): next and previous cursors, no startIndex.

    ``totalResults`` is there when the page counted it (the first page).
    """
    document: dict[str, Any] = {"schemas": [LIST_RESPONSE]}
    if page.total >= 0:
        document["totalResults"] = page.total
    document["itemsPerPage"] = len(resources)
    following, preceding = neighbours(page, position)
    if following is not None:
        document["nextCursor"] = issue(following)
    if preceding is not None:
        document["previousCursor"] = issue(preceding)
    document["Resources"] = list(resources)
    return document
