"""The SCIM endpoints as data: method and path pattern → operation and privilege (RFC 7644 §3.2).

Provisioning needs DataHub's MANAGE_USERS_AND_GROUPS; ``GET /Me`` (RFC 7644 §3.11)
only a valid token, because it shows the caller nothing but the caller. ``PUT``,
``PATCH`` and ``DELETE /Me`` change the caller's own User, and need what the same
request on ``/Users/{id}`` needs (ADR 0039): the record is the identity provider's,
and a user who could write it could grant itself any role. ``/Bulk`` needs only a
valid token, because each of its operations needs its own route's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

from scimhub.domain.roles import Privilege
from scimhub.errors import MethodNotAllowed, NotFound


class Operation(Enum):
    """Everything the SCIM handler can do."""

    SERVICE_PROVIDER_CONFIG = auto()
    LIST_SCHEMAS = auto()
    GET_SCHEMA = auto()
    LIST_RESOURCE_TYPES = auto()
    GET_RESOURCE_TYPE = auto()
    SEARCH_ALL = auto()
    SEARCH = auto()
    CREATE = auto()
    GET = auto()
    REPLACE = auto()
    PATCH = auto()
    DELETE = auto()
    GET_ME = auto()
    REPLACE_ME = auto()
    PATCH_ME = auto()
    DELETE_ME = auto()
    BULK = auto()


PROVISIONING = Privilege.MANAGE_USERS_AND_GROUPS


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern, the operation it runs and the privilege it needs."""

    method: str
    pattern: str
    operation: Operation
    privilege: Privilege | None = PROVISIONING
    """None: any valid token will do."""


ROUTES = (
    Route("GET", "/ServiceProviderConfig", Operation.SERVICE_PROVIDER_CONFIG),
    Route("GET", "/Schemas", Operation.LIST_SCHEMAS),
    Route("GET", "/Schemas/{id}", Operation.GET_SCHEMA),
    Route("GET", "/ResourceTypes", Operation.LIST_RESOURCE_TYPES),
    Route("GET", "/ResourceTypes/{id}", Operation.GET_RESOURCE_TYPE),
    Route("POST", "/.search", Operation.SEARCH_ALL),
    Route("GET", "/{resources}", Operation.SEARCH),
    Route("POST", "/{resources}/.search", Operation.SEARCH),
    Route("POST", "/{resources}", Operation.CREATE),
    Route("GET", "/{resources}/{id}", Operation.GET),
    Route("PUT", "/{resources}/{id}", Operation.REPLACE),
    Route("PATCH", "/{resources}/{id}", Operation.PATCH),
    Route("DELETE", "/{resources}/{id}", Operation.DELETE),
    # Each operation of a bulk request is checked for its own route's privilege (scim/bulk_run.py).
    Route("POST", "/Bulk", Operation.BULK, privilege=None),
    Route("GET", "/Me", Operation.GET_ME, privilege=None),
    Route("PUT", "/Me", Operation.REPLACE_ME),
    Route("PATCH", "/Me", Operation.PATCH_ME),
    Route("DELETE", "/Me", Operation.DELETE_ME),
)


@dataclass(frozen=True)
class Target:
    """A matched route: the operation and the path's captured segments."""

    operation: Operation
    resources: str | None = None
    """``Users`` or ``Groups`` (canonical case), for resource operations."""
    id: str | None = None
    privilege: Privilege | None = PROVISIONING


def _compile(pattern: str) -> re.Pattern[str]:
    expanded = pattern.replace("{resources}", "(?P<resources>Users|Groups)")
    # Matched whole (``fullmatch``): ``$`` would also match before a trailing newline (``/Users\n``).
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", expanded) + "/?", re.IGNORECASE)


_COMPILED = tuple((route, _compile(route.pattern)) for route in ROUTES)


def match(method: str, path: str) -> Target:
    """Return the target of ``method path``.

    Paths match case-insensitively (``/users`` works) and may end in ``/``.

    :raises NotFound: When no endpoint has that path.
    :raises MethodNotAllowed: When the path exists but not with that method.
    """
    allowed: list[str] = []
    for route, regex in _COMPILED:
        found = regex.fullmatch(path)
        if found is None:
            continue
        if route.method != method:
            allowed.append(route.method)
            continue
        groups = found.groupdict()
        resources = groups.get("resources")
        canonical = resources and resources.capitalize()
        return Target(route.operation, canonical, groups.get("id"), route.privilege)
    if allowed:
        methods = tuple(sorted(set(allowed)))
        raise MethodNotAllowed(f"{method} is not allowed on {path}; use {', '.join(methods)}", methods)
    raise NotFound(f"no SCIM endpoint at {path}")
