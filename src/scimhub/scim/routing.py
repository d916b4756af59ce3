"""The SCIM endpoints as data: method and path pattern → operation (RFC 7644 §3.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

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
    NOT_IMPLEMENTED = auto()


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern and the operation it runs."""

    method: str
    pattern: str
    operation: Operation


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
    Route("POST", "/Bulk", Operation.NOT_IMPLEMENTED),
    Route("GET", "/Me", Operation.NOT_IMPLEMENTED),
)


@dataclass(frozen=True)
class Target:
    """A matched route: the operation and the path's captured segments."""

    operation: Operation
    resources: str | None = None
    """``Users`` or ``Groups`` (canonical case), for resource operations."""
    id: str | None = None


def _compile(pattern: str) -> re.Pattern[str]:
    expanded = pattern.replace("{resources}", "(?P<resources>Users|Groups)")
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", expanded) + "/?$", re.IGNORECASE)


_COMPILED = tuple((route, _compile(route.pattern)) for route in ROUTES)


def match(method: str, path: str) -> Target:
    """Return the target of ``method path``.

    Paths match case-insensitively (``/users`` works) and may end in ``/``.

    :raises NotFound: When no endpoint has that path.
    :raises MethodNotAllowed: When the path exists but not with that method.
    """
    allowed: list[str] = []
    for route, regex in _COMPILED:
        found = regex.match(path)
        if found is None:
            continue
        if route.method != method:
            allowed.append(route.method)
            continue
        groups = found.groupdict()
        resources = groups.get("resources")
        return Target(route.operation, resources and resources.capitalize(), groups.get("id"))
    if allowed:
        methods = tuple(sorted(set(allowed)))
        raise MethodNotAllowed(f"{method} is not allowed on {path}; use {', '.join(methods)}", methods)
    raise NotFound(f"no SCIM endpoint at {path}")
