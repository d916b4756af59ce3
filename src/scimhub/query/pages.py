"""A search and one page of its results: what the protocol asks of a store (RFC 7644 §3.4.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from scimhub.query.filter.tree import Filter
from scimhub.query.paths import AttrRef

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """A search: filter, order and one page of results (RFC 7644 §3.4.2)."""

    filter: Filter | None = None
    sort_by: AttrRef | None = None
    descending: bool = False
    offset: int = 0
    """Zero-based index of the first result (SCIM's startIndex − 1)."""
    limit: int = 100
    """At most this many results; 0 asks for the total only."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of search results and the number of all matches."""

    total: int
    items: Sequence[T]
