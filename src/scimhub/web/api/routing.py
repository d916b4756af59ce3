"""The JSON API as data: one table of routes, from which the app is mounted and the OpenAPI document written.

Each resource module (``tokens``, ``roles``, ``users``, ``groups``) declares its
``ROUTES``; ``table.py`` joins them. A route names the privilege the gateway
checks before its operation runs, and the ones the directory checks on top of
it, depending on the request, so the code and the document say the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scimhub.directory.actors import Actor
from scimhub.domain.roles import Privilege
from scimhub.services import Services

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Param:
    """One path or query parameter."""

    name: str
    description: str
    where: str = "path"
    """``path`` or ``query``."""
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    """Its JSON Schema, as the OpenAPI document shows it and the gateway enforces it (``contract.py``)."""


@dataclass(frozen=True)
class ApiCall:
    """One request as an operation sees it: who calls, and what they sent."""

    actor: Actor
    path: Mapping[str, str] = field(default_factory=dict)
    """Path parameters, decoded."""
    query: Mapping[str, Any] = field(default_factory=dict)
    """Query parameters; once checked (``contract.py``) only the declared ones, typed as their schemas say."""
    body: bytes = b""
    """Read (within the size limit) only for routes that declare a body."""
    content_type: str | None = None
    data: Mapping[str, Any] | None = None
    """The JSON body once checked against the route's body schema (``contract.py``)."""


@dataclass(frozen=True)
class Reply:
    """What an operation answers; ``body`` None means no content."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


Operation = Callable[[Services, ApiCall], Reply]
"""Serve one call with the process's services; runs in a worker thread, may raise ``ScimhubError``."""


@dataclass(frozen=True)
class ApiRoute:
    """One endpoint of the JSON API, and everything its OpenAPI description needs."""

    method: str
    path: str
    """Below ``PREFIX``, as an OpenAPI (and Starlette) template: ``/tokens/{id}``."""
    operation: Operation
    operation_id: str
    summary: str
    """An imperative phrase ("List users"); also names the action in a 403's detail."""
    tag: str
    privilege: Privilege | None
    """Checked by the gateway before the operation runs; None: any valid token."""
    also: tuple[Privilege, ...] = ()
    """Privileges the directory checks on top, depending on the request (``rule`` says when)."""
    rule: str = ""
    """Who may call, in words, for the document."""
    params: tuple[Param, ...] = ()
    body: str | None = None
    """The component schema of the JSON request body, if the route takes one; calls are checked against it."""
    response: str | None = None
    """The component schema of the success body; None: no content."""
    status: int = 200
    errors: tuple[int, ...] = ()
    """Statuses the operation itself can answer (404, 409 …), besides the gateway's."""
    public: bool = False
    """Served without a token (the OpenAPI document only)."""

    def error_statuses(self) -> tuple[int, ...]:
        """Return every error status this route can answer, in order."""
        found = set(self.errors) | {429}  # every route is rate limited (ADR 0023)
        if not self.public:
            found.add(401)
        if self.privilege is not None or self.also:
            found.add(403)
        if self.body is not None:
            found |= {400, 413, 415, 422}
        if any(p.where == "query" for p in self.params):
            found.add(422)
        return tuple(sorted(found))
