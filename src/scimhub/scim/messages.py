"""Requests and responses of the SCIM core, free of any web framework.

``web/scim.py`` translates Starlette's request into a ``ScimRequest`` and a
``ScimResponse`` back; everything between is plain Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
        """Return query parameter ``name`` (any case), or None."""
        wanted = name.lower()
        return next((v for k, v in self.query.items() if k.lower() == wanted), None)

    def header(self, name: str) -> str | None:
        """Return header ``name`` (lower case), or None."""
        return self.headers.get(name)


@dataclass(frozen=True)
class ScimResponse:
    """One SCIM response; ``body`` None means no content."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
