"""The Groups pages: search with member counts, a group's page with its members and its roles.

Entra never sends group roles, so this is where they are set: ``Roles.assign``
and ``Roles.unassign`` check MANAGE_POLICIES, as the JSON API's do. A group's
members are paged by member id (``at=after:ID`` or ``before:ID``), read from the
membership key's index: page 200 costs what page 1 does (ADR 0044).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, Redirect, View
from scimhub.console.users import (
    DONE,
    MAX_SEARCH,
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
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import GROUP
from scimhub.scim.cursors import Position
from scimhub.scim.paging import neighbours

_BY_NAME = resolve(GROUP, "displayName")


def member_position(text: str) -> Position:
    """Return where a member page starts: ``after:ID``, ``before:ID``, ``before:`` (the last) or the first."""
    way, _, member_id = text.partition(":")
    if text and (
        way not in ("after", "before") or len(member_id) > MAX_SEARCH or (way == "after" and not member_id)
    ):
        raise InvalidValue("a member page starts 'after:' or 'before:' a member id")
    return Position((member_id,) if member_id else None, backward=way == "before")


def member_link(position: Position | None) -> str:
    """Return the ``at`` of a member page link (empty: no such page)."""
    if position is None:
        return ""
    return f"{'before' if position.backward else 'after'}:{position.key[0] if position.key else ''}"


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
        position = member_position(call.query.get("at", ""))
        summary = hub.groups.summary(call.path["id"])
        seek = Seek(position.key, position.backward, count=False)
        found = hub.groups.member_page(summary.group.id, seek, PAGE_SIZE)
        after, before = neighbours(found, position)
        context = {
            "group": summary.group,
            "count": summary.member_count,
            "members": found.items,
            "next": member_link(after),
            "previous": member_link(before),
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
