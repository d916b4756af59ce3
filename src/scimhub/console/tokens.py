"""The Access tokens page: generate (shown once), list, revoke with confirmation.

``Tokens`` makes every check (DataHub's rules): one's own tokens with
GENERATE_PERSONAL_ACCESS_TOKENS, anybody's with MANAGE_ACCESS_TOKENS. A new
token is shown once, by Post/Redirect/Get (ADR 0048): the POST seals it on the
session's row with a one-time pad it gives the browser in a cookie, and answers
303; the GET that follows unseals it, clearing the row in the same transaction,
expires the cookie, and renders it. Never in a URL or a log; in the database only
XORed with a pad the database never sees; a reload shows it no more.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.routing import BaseRoute, Route

from scimhub.console.http import PREFIX, Call, Console, Cookie, Redirect, View
from scimhub.directory.sessions import SEAL_LIFETIME, SECOND, Session
from scimhub.directory.tokens import TokenView
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Privilege
from scimhub.domain.tokens import Duration
from scimhub.domain.users import user_name_of
from scimhub.errors import InvalidValue

REVEAL_COOKIE = "scimhub_reveal"
"""The one-time pad of a new token sealed on the session (ADR 0048), sent to the tokens page alone."""
_PAD_PATH = f"{PREFIX}/tokens"


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
        done, pad = call.query.get("done", ""), call.cookies.get(REVEAL_COOKIE)
        if not pad:
            return View("tokens.html", listing(session, done))
        shown = _revealed(hub.sessions.unseal(session, pad))
        return View(
            "tokens.html", listing(session, done, **shown), cookies=(Cookie(REVEAL_COOKIE, None, _PAD_PATH),)
        )

    def create(session: Session, call: Call) -> Redirect:
        name, description = call.form.get("name", ""), call.form.get("description", "")
        try:
            duration = Duration.read(call.form.get("duration", "") or Duration.NO_EXPIRY.value)
        except ValueError as error:
            raise InvalidValue(str(error)) from None
        user = call.form.get("user", "").strip()
        ref = UserRef.by_name(user) if user else UserRef.by_urn(session.user.urn)
        issued, view = hub.tokens.issue(session.actor, ref, name, duration, description)
        pad = hub.sessions.seal(session, orjson.dumps({"name": view.record.name, "token": issued.token}))
        return Redirect(_PAD_PATH, (Cookie(REVEAL_COOKIE, pad, _PAD_PATH, SEAL_LIFETIME // SECOND),))

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


def _revealed(message: bytes | None) -> dict[str, str]:
    """Return the new token and its name to show from an unsealed message; nothing for none or garbage.

    A pad that is not the session's own unseals random bytes, which are no such object.
    """
    try:
        shown = orjson.loads(message) if message else None
    except orjson.JSONDecodeError:
        return {}
    if not (
        isinstance(shown, dict) and isinstance(shown.get("token"), str) and isinstance(shown.get("name"), str)
    ):
        return {}
    return {"new_token": shown["token"], "new_name": shown["name"]}


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
