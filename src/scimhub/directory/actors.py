"""Who is making a change: the user behind the token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a use case."""

    user_id: str
    urn: str
    """``urn:li:corpuser:…``; recorded as the actor of every event the call appends."""
    token_id: str | None = None


SYSTEM = Actor(user_id="", urn="urn:li:corpuser:__scimhub_system")
"""The actor of changes made by the server itself (first-run set-up)."""
