"""The Roles page and the Events page: DataHub's three roles with their holders, and the change feed.

Holders need MANAGE_USERS_AND_GROUPS (as ``GET /api/v1/roles/{name}/members``);
the events need GET_PLATFORM_EVENTS, checked by ``Audit.search`` itself.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, View
from scimhub.directory.sessions import Session
from scimhub.domain.events import Category
from scimhub.domain.roles import Privilege, Role
from scimhub.errors import InvalidValue
from scimhub.feed.audit import read_audit_request

EVENTS_PAGE = 50
_EVENT_FILTERS = ("entity", "actor", "category", "since", "until", "before")


def roles_routes(console: Console) -> list[BaseRoute]:
    """Return the Roles and Events pages."""
    hub = console.services

    def roles(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Listing the holders of a role")
        rows, counts = [], console.counts.get()
        for role in Role:
            holders = hub.roles.holders(role)
            effective = counts.holders[role]  # cached: a count costs a probe per holder (ADR 0044)
            rows.append(
                {
                    "role": role,
                    "privileges": sorted(p.value for p in role.privileges),
                    "users": [h for h in holders if h.kind == "user"],
                    "groups": [h for h in holders if h.kind == "group"],
                    "effective": effective,
                }
            )
        return View("roles.html", {"rows": rows, "counted_at": counts.read_at})

    def events(session: Session, call: Call) -> View:
        params: dict[str, object] = {
            k: call.query[k].strip() for k in _EVENT_FILTERS if call.query.get(k, "").strip()
        }
        if "category" in params and params["category"] not in {c.value for c in Category}:
            raise InvalidValue(f"category must be one of {', '.join(c.value for c in Category)}")
        page = hub.audit.search(session.actor, read_audit_request({**params, "limit": EVENTS_PAGE}))
        shown = {k: str(v) for k, v in params.items() if k != "before"}
        context = {
            "events": [recorded for _, recorded in page.events],
            "next": page.next,
            "head": page.head,
            "filters": shown,
            "categories": [c.value for c in Category],
            "live": "before" not in params,
        }
        return View("events.html", context)

    return [
        Route(f"{PREFIX}/roles", console.page(roles), methods=["GET"]),
        Route(f"{PREFIX}/events", console.page(events), methods=["GET"]),
    ]
