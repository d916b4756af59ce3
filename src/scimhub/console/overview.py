"""The Overview: counts, the Tenant URL, Entra's set-up checklist from real data, recent changes.

The counts are the console's cached ones (``counts.py``, ADR 0044: read at
most every 30 s, shown with the time they were read); the checklist reads the
tokens, and the SCIM traffic this process has seen (``traffic.py``).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, Redirect, View, count, when
from scimhub.console.users import recent_events
from scimhub.directory.sessions import Session
from scimhub.domain.roles import Privilege, Role


def overview_routes(console: Console) -> list[BaseRoute]:
    """Return the console's home (the Overview, or a Reader's own page) and the Overview."""
    hub = console.services

    def home(session: Session, call: Call) -> Redirect:
        if Privilege.MANAGE_USERS_AND_GROUPS in session.actor.privileges:
            return Redirect(f"{PREFIX}/overview")
        return Redirect(f"{PREFIX}/me")

    def overview(session: Session, call: Call) -> View:
        session.actor.require(Privilege.MANAGE_USERS_AND_GROUPS, "Reading the overview")
        counts = console.counts.get()  # None until the first reading is in: "counting…"
        users = counts.users if counts else None
        push = hub.datahub_status()
        context = {
            "users": users,
            "active": counts.users - counts.suspended if counts else None,
            "suspended": counts.suspended if counts else None,
            "groups": counts.groups if counts else None,
            "holders": counts.holders if counts else dict.fromkeys(Role),
            "counted_at": counts.read_at if counts else None,
            "tenant_url": call.base_url + console.scim_prefix,
            "checklist": checklist(console, session, users),
            "events": recent_events(console, session.actor, None),
            "push": push if push.enabled else None,
        }
        return View("overview.html", context)

    return [
        Route(f"{PREFIX}/", console.page(home), methods=["GET"]),
        Route(f"{PREFIX}/overview", console.page(overview), methods=["GET"]),
    ]


def checklist(console: Console, session: Session, users: int | None) -> list[dict[str, Any]]:
    """Return Entra's set-up steps, each done or not, with what shows it."""
    now = time.time_ns() // 1000
    tokens = console.services.tokens.list(session.actor)
    usable = [t for t in tokens if t.record.expires is None or t.record.expires > now]
    used = max((t.record.last_used for t in usable if t.record.last_used), default=None)
    traffic = console.traffic.summary(time.time())
    first = int(traffic.first * 1e6) if traffic.first else None
    last = int(traffic.last * 1e6) if traffic.last else None
    errors = traffic.client_errors_last_hour + traffic.server_errors_last_hour
    return [
        _step(
            bool(usable),
            "A token for provisioning exists",
            f"{len(usable)} usable"
            if usable
            else "Generate one under Access tokens and paste it into Entra as the Secret Token.",
        ),
        _step(used is not None, "The token has been used", "last used at {}", used),
        _step(first is not None, "First SCIM request seen (since this process started)", "at {}", first),
        _step(last is not None, "Last SCIM request", "at {}", last),
        _step(
            users is not None and users > 1,
            "Users have arrived",
            f"{count(users)} user(s), the built-in admin included",
        ),
        _step(
            errors == 0,
            "No SCIM errors in the last hour",
            f"{traffic.client_errors_last_hour} 4xx, {traffic.server_errors_last_hour} 5xx (this process)",
        ),
    ]


def _step(done: bool, title: str, detail: str, moment: int | None = None) -> dict[str, Any]:
    if "{}" in detail:
        detail = detail.format(when(moment)) if moment is not None else "not yet"
    return {"done": done, "title": title, "detail": detail}
