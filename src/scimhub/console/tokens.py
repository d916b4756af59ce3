"""The Access tokens page: generate (shown once), list, revoke with confirmation.

``Tokens`` makes every check (DataHub's rules): one's own tokens with
GENERATE_PERSONAL_ACCESS_TOKENS, anybody's with MANAGE_ACCESS_TOKENS. A new
token is rendered into the answer of the POST that made it and nowhere else:
not in a URL, a log or a later page.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, Redirect, View
from scimhub.directory.sessions import Session
from scimhub.directory.tokens import TokenView
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Privilege
from scimhub.domain.tokens import Duration
from scimhub.domain.users import user_name_of
from scimhub.errors import InvalidValue

MAX_NAME = 256


def tokens_routes(console: Console) -> list[BaseRoute]:
    """Return the Access tokens page and its actions."""
    hub = console.services

    def listing(session: Session, done: str = "", **shown: Any) -> dict[str, Any]:
        views = hub.tokens.list(session.actor)
        return {
            "tokens": [_row(view) for view in views],
            "durations": [d.value for d in Duration],
            "others": Privilege.MANAGE_ACCESS_TOKENS in session.actor.privileges,
            "done": "The token is revoked: it stops working at once." if done == "revoked" else "",
            "new_token": "",
            "new_name": "",
            **shown,
        }

    def tokens(session: Session, call: Call) -> View:
        return View("tokens.html", listing(session, call.query.get("done", "")))

    def create(session: Session, call: Call) -> View:
        name, description = call.form.get("name", "").strip(), call.form.get("description", "").strip()
        if len(name) > MAX_NAME or len(description) > 4 * MAX_NAME:
            raise InvalidValue(
                f"a token's name is at most {MAX_NAME} characters, its description {4 * MAX_NAME}"
            )
        try:
            duration = Duration.read(call.form.get("duration", "") or Duration.NO_EXPIRY.value)
        except ValueError as error:
            raise InvalidValue(str(error)) from None
        user = call.form.get("user", "").strip()
        ref = UserRef.by_name(user) if user else UserRef.by_urn(session.user.urn)
        issued, view = hub.tokens.issue(session.actor, ref, name, duration, description or None)
        return View("tokens.html", listing(session, new_token=issued.token, new_name=view.record.name))

    def confirm(session: Session, call: Call) -> View:
        return View("token_revoke.html", {"token": _row(hub.tokens.get(session.actor, call.path["id"]))})

    def revoke(session: Session, call: Call) -> Redirect:
        hub.tokens.revoke(session.actor, call.path["id"])
        return Redirect(f"{PREFIX}/tokens?done=revoked")

    return [
        Route(f"{PREFIX}/tokens", console.page(tokens), methods=["GET"]),
        Route(f"{PREFIX}/tokens", console.page(create), methods=["POST"]),
        Route(f"{PREFIX}/tokens/{{id}}/revoke", console.page(confirm), methods=["GET"]),
        Route(f"{PREFIX}/tokens/{{id}}/revoke", console.page(revoke), methods=["POST"]),
    ]


def _row(view: TokenView) -> dict[str, Any]:
    record = view.record
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description or "",
        "actor": user_name_of(view.actor_urn) or view.actor_urn,
        "owner": (user_name_of(view.owner_urn) or view.owner_urn) if view.owner_urn else "(deleted user)",
        "created": record.created,
        "expires": record.expires,
        "last_used": record.last_used,
    }
