"""A search and one page of its results: what the protocol asks of a store (RFC 7644 §3.4.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scimhub.query.filter.tree import Filter, matches_at_most_one
from scimhub.query.paths import AttrRef

T = TypeVar("T")


@dataclass(frozen=True)
class Seek:
    """Where a keyset page starts: next to a row's sort key, not at an offset (RFC 9865 cursors, ADR 0035).

    The sort key of a row is the tuple of the values its query orders by, the id
    last: unique, so a page after a key neither skips nor repeats a row that was
    there all along, whatever others insert or delete meanwhile.
    """

    after: tuple[Any, ...] | None = None
    """The sort key the page follows (or, ``backward``, precedes); None: from the first (last) row."""
    backward: bool = False
    """Read the ``limit`` rows before ``after``; the page still comes in the query's order."""
    count: bool = True
    """Count every match into ``Page.total``; False leaves it at -1 and reads no more than the page."""


@dataclass(frozen=True)
class Query:
    """A search: filter, order and one page of results (RFC 7644 §3.4.2)."""

    filter: Filter | None = None
    sort_by: AttrRef | None = None
    descending: bool = False
    offset: int = 0
    """Zero-based index of the first result (SCIM's startIndex − 1); ignored when ``seek`` is set."""
    limit: int = 100
    """At most this many results; 0 asks for the total only."""
    seek: Seek | None = None
    """Page by sort key rather than by offset."""

    @property
    def is_lookup(self) -> bool:
        """Tell whether the first page holds every match, so it needs no count: at most one matches.

        Its one statement then needs no transaction around it (ADR 0057).
        """
        return (
            self.seek is None
            and self.offset == 0
            and self.limit > 0
            and self.filter is not None
            and matches_at_most_one(self.filter)
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of search results and the number of all matches."""

    total: int
    items: Sequence[T]
    keys: Sequence[tuple[Any, ...]] = ()
    """For a ``seek`` query, the sort key of each item, for the next page to seek from."""
    more: bool = False
    """For a ``seek`` query, whether a matching row lies beyond the page in the direction it was read."""
    related: Sequence[Any] = ()
    """What was read with each item, item by item, when asked for (a user's groups); else empty."""


@dataclass(frozen=True)
class Walk:
    """How far a role's keyset page may be looked for along the list's order (ADR 0045, ADR 0051).

    A hint about cost, never about the answer: whatever it says, the page is the same.
    """

    rows: int
    """Test at most this many users of the order before reading the role's holders instead."""
    holders: int = 0
    """How many hold the role, as last counted: what ``sample`` is a part of."""
    sample: tuple[Any, ...] = ()
    """What the order sorts by, of holders drawn at random, in ascending order. How many lie in
    the window tells whether it likely holds a page: the holders of a role bunched at the far
    end of the order are then read at once, without a walk bound to find nothing (ADR 0051)."""
