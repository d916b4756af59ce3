"""The Roles pages and the Events page: DataHub's three roles with their holders, and the change feed.

Holders need MANAGE_USERS_AND_GROUPS (as ``GET /api/v1/roles/{name}/members``);
the events need GET_PLATFORM_EVENTS, checked by ``Audit.search`` itself. The
Roles page shows each role's first direct holders; a role's own page lists them
all, users or groups, a page at a time after the last id shown (ADR 0045), as a
group's members are: bounded whatever the number of holders.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scimhub.console.groups import member_link, member_position
from scimhub.console.http import PREFIX, Call, Console, View
from scimhub.console.users import PAGE_SIZE
from scimhub.directory.sessions import Session
from scimhub.domain.events import Category
from scimhub.domain.roles import Privilege, Role, find_role
from scimhub.errors import InvalidValue, NotFound
from scimhub.feed.audit import read_audit_request
from scimhub.query.pages import Seek
from scimhub.scim.paging import neighbours

EVENTS_PAGE = 50
PREVIEW = 10
"""Direct holders of each kind the Roles page shows; the role's own page lists them all, a page at a time."""
_EVENT_FILTERS = ("entity", "actor", "category", "since", "until", "before")


def roles_routes(console: Console) -> list[BaseRoute]:
    """Return the Roles and Events pages."""
    hub = console.services

    def roles(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Listing the holders of a role")
        rows, counts, first = [], console.counts.get(), Seek(count=False)
        for role in Role:
            users = hub.roles.direct_page(role, "user", first, PREVIEW)
            groups = hub.roles.direct_page(role, "group", first, PREVIEW)
            rows.append(
                {
                    "role": role,
                    "privileges": sorted(p.value for p in role.privileges),
                    "users": users.items,
                    "more_users": users.more,
                    "groups": groups.items,
                    "more_groups": groups.more,
                    # cached: a count costs a probe per holder (ADR 0044); None until first read
                    "effective": counts.holders[role] if counts else None,
                }
            )
        return View("roles.html", {"rows": rows, "counted_at": counts.read_at if counts else None})

    def role(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Listing the holders of a role")
        role = find_role(call.path["name"])
        if role is None:
            raise NotFound(f"no role '{call.path['name']}': the roles are Admin, Editor and Reader")
        kind = call.query.get("kind", "user")
        if kind not in ("user", "group"):
            raise InvalidValue("kind is 'user' or 'group'")
        position = member_position(call.query.get("at", ""))
        found = hub.roles.direct_page(
            role, kind, Seek(position.key, position.backward, count=False), PAGE_SIZE
        )
        after, before = neighbours(found, position)
        context = {
            "role": role,
            "kind": kind,
            "holders": found.items,
            "next": member_link(after),
            "previous": member_link(before),
        }
        return View("role.html", context)

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
        Route(f"{PREFIX}/roles/{{name}}", console.page(role), methods=["GET"]),
        Route(f"{PREFIX}/events", console.page(events), methods=["GET"]),
    ]
