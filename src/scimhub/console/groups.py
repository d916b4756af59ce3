"""The Groups pages: search with member counts, a group's page with its members and its roles.

Entra never sends group roles, so this is where they are set: ``Roles.assign``
and ``Roles.unassign`` check MANAGE_POLICIES, as the JSON API's do.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, Redirect, View
from scimhub.console.users import (
    DONE,
    PAGE_SIZE,
    page_count,
    page_number,
    recent_events,
    role_named,
    search_term,
)
from scimhub.directory.sessions import Session
from scimhub.domain.roles import Privilege, Role
from scimhub.errors import InvalidValue
from scimhub.query.filter.tree import Compare
from scimhub.query.pages import Query
from scimhub.query.paths import resolve
from scimhub.query.schema import GROUP

_BY_NAME = resolve(GROUP, "displayName")


def groups_routes(console: Console) -> list[BaseRoute]:
    """Return the Groups pages and their role actions."""
    hub = console.services

    def list_groups(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Listing groups")
        text, page = search_term(call), page_number(call)
        query = Query(
            filter=Compare(_BY_NAME, "sw", text) if text else None,
            sort_by=_BY_NAME,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        found = hub.groups.summaries(query)
        roles = hub.roles.of_groups([s.group.id for s in found.items])
        context = {
            "items": [(s, roles[s.group.id]) for s in found.items],
            "total": found.total,
            "page": page,
            "pages": page_count(found.total),
            "q": text,
        }
        return View("groups.html", context)

    def show_group(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Reading a group")
        page = page_number(call)
        summary = hub.groups.summary(call.path["id"])
        with hub.groups.open(call.path["id"]) as snapshot:
            skipped = 0
            while skipped < (page - 1) * PAGE_SIZE:  # a stable order without offsets: read past, in chunks
                chunk = snapshot.next_members(min(1000, (page - 1) * PAGE_SIZE - skipped))
                if not chunk:
                    break
                skipped += len(chunk)
            members = snapshot.next_members(PAGE_SIZE)
        context = {
            "group": summary.group,
            "count": summary.member_count,
            "members": members,
            "page": page,
            "pages": page_count(summary.member_count),
            "roles": hub.roles.of_groups([summary.group.id])[summary.group.id],
            "all_roles": list(Role),
            "events": recent_events(console, session.actor, summary.group.urn),
            "done": DONE.get(call.query.get("done", ""), ""),
        }
        return View("group.html", context)

    def change_role(session: Session, call: Call) -> Redirect:
        role = role_named(call.form.get("role", ""))
        if role is None:
            raise InvalidValue("choose a role: Admin, Editor or Reader")
        assign = call.form.get("action") != "remove"
        change = hub.roles.assign if assign else hub.roles.unassign
        changed = change(session.actor, role, "group", call.path["id"])
        done = ("assigned" if assign else "removed") if changed else "unchanged"
        return Redirect(f"{PREFIX}/groups/{call.path['id']}?done={done}")

    return [
        Route(f"{PREFIX}/groups", console.page(list_groups), methods=["GET"]),
        Route(f"{PREFIX}/groups/{{id}}", console.page(show_group), methods=["GET"]),
        Route(f"{PREFIX}/groups/{{id}}/roles", console.page(change_role), methods=["POST"]),
    ]
