"""Requests and responses of the SCIM core, free of any web framework.

``web/scim.py`` translates Starlette's request into a ``ScimRequest`` and a
``ScimResponse`` back; everything between is plain Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from scimhub.directory.actors import Actor

SCIM_MEDIA_TYPE = "application/scim+json"


@dataclass(frozen=True)
class ScimRequest:
    """One SCIM request."""

    method: str
    """Upper-case HTTP method."""
    path: str
    """The path below the SCIM base, such as ``/Users/2819c223``."""
    base_url: str
    """Absolute URL of the SCIM base, without a trailing slash; prefixes ``meta.location``."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters; names as sent (SCIM matches them case-insensitively)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers with lower-case names."""
    body: bytes = b""
    actor: Actor | None = None
    """The authenticated caller; None only for requests that need no authentication."""

    def param(self, name: str) -> str | None:
        """Return query parameter ``name`` (any case), or None; the first sent of names alike but for case."""
        return self._params.get(name.lower())

    @cached_property
    def _params(self) -> dict[str, str]:
        # A search asks for eight parameters: the names are folded once, not at each.
        return {k.lower(): v for k, v in reversed(list(self.query.items()))}

    def header(self, name: str) -> str | None:
        """Return header ``name`` (lower case), or None."""
        return self.headers.get(name)


@dataclass(frozen=True)
class LazyArray:
    """A JSON array of a response body, read while the response is sent (ADR 0019).

    It stands in the body where the array goes; its values come from a read
    transaction that stays open until ``close``. Whoever sends the response reads
    ``chunks`` one at a time in the core's threads (never on the event loop) and
    calls ``close`` however the sending ends: complete, client gone, or failed.
    ``close`` may be called from another thread while a chunk is read (it waits
    for it), and twice.
    """

    chunks: Iterator[list[Any]]
    """The values, a list per chunk; a chunk may be empty when projection dropped all its values."""
    close: Callable[[], None]
    keep_empty: bool
    """Whether an array left without values is sent as ``[]``; otherwise its key is left out,
    as ``Projection.apply`` leaves out a multi-valued attribute whose every value it dropped."""


@dataclass(frozen=True)
class ScimResponse:
    """One SCIM response; ``body`` None means no content."""

    status: int
    body: dict[str, Any] | None = None
    """The JSON document; at most one top-level value may be a ``LazyArray``."""
    headers: dict[str, str] = field(default_factory=dict)

    def lazy_array(self) -> tuple[str, LazyArray] | None:
        """Return the body's key that holds a ``LazyArray`` and the array, or None for a body read whole."""
        if self.body is not None:
            for key, value in self.body.items():
                if isinstance(value, LazyArray):
                    return key, value
        return None

    def close(self) -> None:
        """Release what a ``LazyArray`` of the body holds, for a caller that will not send it."""
        found = self.lazy_array()
        if found is not None:
            found[1].close()
