"""The Users pages: search, a user's page, and what an administrator may do to a user.

Reading users needs MANAGE_USERS_AND_GROUPS, as ``GET /api/v1/users`` does;
suspending needs it too, as SCIM's writes do; roles and reset links are checked
by ``Roles`` and ``PasswordResets`` themselves. Every list is one page read by
the store's indexed paths (ADR 0017): the userName key's index for the order,
key ranges for a search, ``users.active`` for the status, ``user_roles`` and
``group_roles`` for a role (``UserRows.search``).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, NoReturn
from urllib.parse import urlencode

from starlette.routing import BaseRoute, Route

from scimhub.console.counts import Counts
from scimhub.console.http import PREFIX, Call, Console, Redirect, View
from scimhub.console.orders import SORTS
from scimhub.directory.actors import Actor
from scimhub.directory.sessions import Session
from scimhub.directory.users import UserEdit
from scimhub.domain.roles import Privilege, Role, find_role
from scimhub.errors import Forbidden, InvalidValue
from scimhub.feed.audit import AuditRequest
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.scim.cursors import Position
from scimhub.scim.paging import neighbours

PAGE_SIZE = 50
MAX_PAGE = (2**31 - 1) // PAGE_SIZE
"""The last page a list may ask for: its rows' offset still fits the 32-bit integer PostgreSQL binds."""
MAX_SEARCH = 256
"""A search term at most as long as a userName may be (ADR 0021)."""
DONE = {
    "suspended": "The user is suspended: its tokens and console sessions stop working at once.",
    "reactivated": "The user is active again.",
    "assigned": "The role is assigned.",
    "removed": "The role is removed.",
    "unchanged": "Nothing changed: it was so already.",
}


def page_number(call: Call) -> int:
    """Return the 1-based page a list asks for (1 for anything that is not a positive number).

    At most ``MAX_PAGE``: a page past it would lie past any list's end anyway.
    """
    text = call.query.get("page", "1")
    return min(max(1, int(text)), MAX_PAGE) if text.isascii() and text.isdigit() and len(text) < 9 else 1


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """Return how many pages ``total`` items fill (at least one, an empty one)."""
    return max(1, -(-total // size))


def search_term(call: Call) -> str:
    """Return the search term of a list (``q``), trimmed; refuse one longer than a name may be."""
    text = call.query.get("q", "").strip()
    if len(text) > MAX_SEARCH:
        raise InvalidValue(f"a search is at most {MAX_SEARCH} characters")
    return text


def cached_count(text: str, active: bool | None, role: Role | None) -> bool:
    """Tell whether the cached counts hold a list's count: all users, one status, or one role."""
    return not text and (active is None or role is None)


def known_total(counts: Counts, active: bool | None, role: Role | None) -> int:
    """Return the count of a list the cached counts hold (``cached_count``)."""
    if role is not None:
        return counts.holders[role]
    return {None: counts.users, False: counts.suspended, True: counts.users - counts.suspended}[active]


def role_named(text: str) -> Role | None:
    """Return the role a form or query names, None for none; refuse a name that is no role."""
    if not text:
        return None
    role = find_role(text)
    if role is None:
        raise InvalidValue(f"'{text}' is not a role; the roles are Admin, Editor and Reader")
    return role


def _done(call: Call) -> str:
    return DONE.get(call.query.get("done", ""), "")


def users_routes(console: Console) -> list[BaseRoute]:
    """Return the Users pages and their actions."""
    hub = console.services

    def list_users(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Listing users")
        text, status = search_term(call), call.query.get("status", "")
        role, sort = role_named(call.query.get("role", "")), call.query.get("sort", "userName")
        sort, descending = (sort if sort in SORTS else "userName"), call.query.get("order") == "desc"
        active = {"active": True, "suspended": False}.get(status)
        params = {"q": text, "status": status, "role": role.value if role else "", "sort": sort}
        params = {k: v for k, v in {**params, "order": "desc" if descending else ""}.items() if v}
        # A page link carries the last (or first) row's sort key, signed for these very filters.
        scope, at = "console/users?" + urlencode(params), call.query.get("at", "")
        position = console.services.scim.cursors.read(scope, at) if at else Position(None)
        counts, cached = console.counts.get(), cached_count(text, active, role)
        seek = Seek(position.key, position.backward, count=not cached)  # a cached count is not read again
        query = Query(sort_by=resolve(USER, SORTS[sort]), descending=descending, limit=PAGE_SIZE, seek=seek)
        # A common role's page is looked for along the list's order first (ADR 0045).
        walk = counts.role_walk(role, SORTS[sort], PAGE_SIZE + 1) if counts and role and not text else None
        found = hub.users.search(query, prefix=text or None, active=active, role=role, walk=walk)
        roles = hub.roles.of_users([view.user.id for view in found.items])
        after, before = neighbours(found, position)
        issue = partial(console.services.scim.cursors.issue, scope)
        context = {
            "items": [(view.user, roles[view.user.id].effective) for view in found.items],
            # None: the list's count is the cache's, and the first reading is not in yet ("counting…").
            "total": (known_total(counts, active, role) if counts else None) if cached else found.total,
            "counted_at": counts.read_at if cached and counts else None,
            "next": issue(after) if after else "",
            "previous": issue(before) if before else "",
            "params": params,
            "q": text,
            "status": status,
            "role": role.value if role else "",
            "sort": sort,
            "order": "desc" if descending else "asc",
            "roles": list(Role),
        }
        return View("users.html", context)

    def show_user(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Reading a user")
        return View("user.html", user_context(console, session, call.path["id"], _done(call)))

    def me(session: Session, call: Call) -> View:
        return View("user.html", user_context(console, session, session.user.id, _done(call)))

    def set_active(session: Session, call: Call) -> Redirect:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Suspending or reactivating a user")
        active = call.form.get("active") == "true"
        before = hub.users.get(call.path["id"]).user.version
        view = hub.users.update(
            session.actor, call.path["id"], lambda user: UserEdit({**user.doc, "active": active})
        )
        done = ("reactivated" if active else "suspended") if view.user.version != before else "unchanged"
        return Redirect(f"{PREFIX}/users/{view.user.id}?done={done}")

    def change_role(session: Session, call: Call) -> Redirect:
        role = role_named(call.form.get("role", "")) or _no_role()
        assign = call.form.get("action") != "remove"
        change = hub.roles.assign if assign else hub.roles.unassign
        changed = change(session.actor, role, "user", call.path["id"])
        done = ("assigned" if assign else "removed") if changed else "unchanged"
        return Redirect(f"{PREFIX}/users/{call.path['id']}?done={done}")

    def reset_link(session: Session, call: Call) -> View:
        secret, expires = console.resets.issue(session.actor, call.path["id"])
        context = user_context(console, session, call.path["id"], "")
        context["reset_link"] = f"{call.base_url}{PREFIX}/reset?key={secret}"
        context["reset_expires"] = expires
        return View("user.html", context)

    return [
        Route(f"{PREFIX}/users", console.page(list_users), methods=["GET"]),
        Route(f"{PREFIX}/me", console.page(me), methods=["GET"]),
        Route(f"{PREFIX}/users/{{id}}", console.page(show_user), methods=["GET"]),
        Route(f"{PREFIX}/users/{{id}}/active", console.page(set_active), methods=["POST"]),
        Route(f"{PREFIX}/users/{{id}}/roles", console.page(change_role), methods=["POST"]),
        Route(f"{PREFIX}/users/{{id}}/reset-link", console.page(reset_link), methods=["POST"]),
    ]


def _no_role() -> NoReturn:
    raise InvalidValue("choose a role: Admin, Editor or Reader")


def user_context(console: Console, session: Session, user_id: str, done: str) -> dict[str, Any]:
    """Return what a user's page shows: attributes as provisioned, groups, roles, recent events."""
    hub = console.services
    view = hub.users.get(user_id, with_groups=True)
    roles = hub.roles.of_users([user_id])[user_id]
    return {
        "user": view.user,
        "groups": view.groups or [],
        "roles": roles,
        "all_roles": list(Role),
        "document": json.dumps(view.user.doc, indent=2, sort_keys=True, ensure_ascii=False),
        "events": recent_events(console, session.actor, view.user.urn),
        "own": user_id == session.user.id,
        "done": done,
        "reset_link": "",
        "reset_expires": None,
    }


def recent_events(console: Console, actor: Actor, urn: str | None, limit: int = 10) -> list[Any] | None:
    """Return the latest events (of one entity, or all), or None when the viewer may not read events."""
    try:
        page = console.services.audit.search(actor, AuditRequest(entity=urn, limit=limit))
    except Forbidden:
        return None
    return [recorded for _, recorded in page.events]
