"""``/api/v1/tokens``: create, list, inspect and revoke personal access tokens, DataHub's way.

Bodies follow DataHub's GraphQL token API (``auth.graphql``): the input is a
``CreateAccessTokenInput`` and a token's metadata an ``AccessTokenMetadata``, with
times in epoch milliseconds. The rules (GENERATE_PERSONAL_ACCESS_TOKENS for one's
own tokens, MANAGE_ACCESS_TOKENS for anybody else's) live in the directory's
``Tokens``; these operations only translate.
"""

from __future__ import annotations

from typing import Any

from scimhub.directory.tokens import TokenView
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Privilege
from scimhub.domain.tokens import MAX_DESCRIPTION, MAX_NAME, Duration
from scimhub.services import Services
from scimhub.web.api.routing import PREFIX, ApiCall, ApiRoute, Param, Reply
from scimhub.web.api.schemas import NAME, NULLABLE_STRING, STRING, USER_URN, Schema, array, enum, obj, ref

DEFAULT_DURATION = Duration.ONE_MONTH
"""What a token lasts when the input names no duration: DataHub's UI default. NO_EXPIRY
(what Entra's Secret Token wants) has to be asked for."""

_TAG = "Tokens"
_ID = Param("id", "The token's id (its JWT `jti`), as listed.")
_NULLABLE_MILLIS = {"type": ["integer", "null"], "description": "Epoch milliseconds; null for never."}


def _millis(micros: int | None) -> int | None:
    return None if micros is None else micros // 1000


def _metadata(view: TokenView) -> dict[str, Any]:
    record = view.record
    return {
        "id": record.id,
        "type": "PERSONAL",
        "name": record.name,
        "description": record.description,
        "actorUrn": view.actor_urn,
        "ownerUrn": view.owner_urn,
        "createdAt": _millis(record.created),
        "expiresAt": _millis(record.expires),
        "lastUsedAt": _millis(record.last_used),
    }


def create_token(hub: Services, call: ApiCall) -> Reply:
    """Issue a token acting as ``actorUrn`` (default: the caller); its text is in this answer only.

    The body was checked against ``CreateAccessTokenInput`` (``contract.py``): the type is
    PERSONAL, the duration one of DataHub's names, the name not blank, the actor a user's URN.
    The actor is found by its stored URN, which a rename does not change (ADR 0008).
    """
    body = call.data or {}
    duration = Duration(body.get("duration", DEFAULT_DURATION.value))
    actor = UserRef.by_urn(body.get("actorUrn", call.actor.urn))
    issued, view = hub.tokens.issue(call.actor, actor, body["name"], duration, body.get("description"))
    return Reply(
        201,
        {"accessToken": issued.token, "metadata": _metadata(view)},
        {"Location": f"{PREFIX}/tokens/{view.record.id}"},
    )


def list_tokens(hub: Services, call: ApiCall) -> Reply:
    """List the caller's tokens, or every token (or one actor's) with MANAGE_ACCESS_TOKENS."""
    urn = call.query.get("actorUrn")
    views = hub.tokens.list(call.actor, None if urn is None else UserRef.by_urn(urn))
    return Reply(200, {"total": len(views), "tokens": [_metadata(v) for v in views]})


def current_token(hub: Services, call: ApiCall) -> Reply:
    """Describe the token this request was made with."""
    return Reply(200, _metadata(hub.tokens.get(call.actor, call.actor.token_id or "")))


def get_token(hub: Services, call: ApiCall) -> Reply:
    """Describe one token."""
    return Reply(200, _metadata(hub.tokens.get(call.actor, call.path["id"])))


def revoke_token(hub: Services, call: ApiCall) -> Reply:
    """Revoke a token; every process refuses it from the next request on."""
    hub.tokens.revoke(call.actor, call.path["id"])
    return Reply(204)


_OWN_OR_MANAGE = (
    "One's own tokens (as actor or owner) with any valid token; anybody's with MANAGE_ACCESS_TOKENS."
)

ROUTES = (
    ApiRoute(
        "POST",
        "/tokens",
        create_token,
        "createAccessToken",
        "Create a personal access token",
        _TAG,
        privilege=None,
        also=(Privilege.GENERATE_PERSONAL_ACCESS_TOKENS, Privilege.MANAGE_ACCESS_TOKENS),
        rule="A token acting as oneself needs GENERATE_PERSONAL_ACCESS_TOKENS (Admin, Editor); one acting as"
        " another user needs MANAGE_ACCESS_TOKENS (Admin). The token is in this answer only.",
        body="CreateAccessTokenInput",
        response="AccessToken",
        status=201,
        errors=(404, 409),  # 409: the token's user deleted meanwhile
    ),
    ApiRoute(
        "GET",
        "/tokens",
        list_tokens,
        "listAccessTokens",
        "List personal access tokens",
        _TAG,
        privilege=None,
        also=(Privilege.MANAGE_ACCESS_TOKENS,),
        rule="Any valid token lists the tokens acting as its user; MANAGE_ACCESS_TOKENS lists every token,"
        " or another user's with actorUrn. Newest first; never the tokens themselves.",
        params=(
            Param("actorUrn", "Only the tokens acting as this user (urn:li:corpuser:…).", "query", USER_URN),
        ),
        response="AccessTokenList",
    ),
    ApiRoute(
        "GET",
        "/tokens/current",
        current_token,
        "getCurrentAccessToken",
        "Inspect the token of this request",
        _TAG,
        privilege=None,
        rule="Any valid token: the metadata of the token the request carries.",
        response="AccessTokenMetadata",
    ),
    ApiRoute(
        "GET",
        "/tokens/{id}",
        get_token,
        "getAccessTokenMetadata",
        "Inspect a personal access token",
        _TAG,
        privilege=None,
        also=(Privilege.MANAGE_ACCESS_TOKENS,),
        rule=_OWN_OR_MANAGE,
        params=(_ID,),
        response="AccessTokenMetadata",
        errors=(404,),
    ),
    ApiRoute(
        "DELETE",
        "/tokens/{id}",
        revoke_token,
        "revokeAccessToken",
        "Revoke a personal access token",
        _TAG,
        privilege=None,
        also=(Privilege.MANAGE_ACCESS_TOKENS,),
        rule=_OWN_OR_MANAGE + " The next request with it is refused, on every process.",
        params=(_ID,),
        errors=(404,),
        status=204,
    ),
)

SCHEMAS: dict[str, Schema] = {
    "CreateAccessTokenInput": obj(
        {
            "type": {**enum(["PERSONAL"]), "default": "PERSONAL"},
            "actorUrn": {**USER_URN, "description": "Whom the token acts as; default: the caller."},
            "duration": {**enum(d.value for d in Duration), "default": DEFAULT_DURATION.value},
            "name": {
                **NAME,
                "description": "Not blank: at least one character besides white space; at most"
                f" {MAX_NAME} characters once the white space around it is trimmed, as it is kept.",
            },
            "description": {
                **NULLABLE_STRING,
                "description": f"At most {MAX_DESCRIPTION} characters once trimmed, as it is kept.",
            },
        },
        optional=("type", "actorUrn", "duration", "description"),
        description="DataHub's CreateAccessTokenInput; type, actorUrn and duration may be left out here"
        " (not sent as null); only description may be null.",
        additionalProperties=False,
    ),
    "AccessTokenMetadata": obj(
        {
            "id": STRING,
            "type": enum(["PERSONAL"]),
            "name": STRING,
            "description": NULLABLE_STRING,
            "actorUrn": {**STRING, "description": "The user the token acts as."},
            "ownerUrn": {
                **NULLABLE_STRING,
                "description": "The user who created it; null once that user is deleted (the token stays).",
            },
            "createdAt": {"type": "integer", "description": "Epoch milliseconds."},
            "expiresAt": _NULLABLE_MILLIS,
            "lastUsedAt": _NULLABLE_MILLIS,
        },
    ),
    "AccessToken": obj(
        {
            "accessToken": {**STRING, "description": "The token; shown once, never stored."},
            "metadata": ref("AccessTokenMetadata"),
        }
    ),
    "AccessTokenList": obj({"total": {"type": "integer"}, "tokens": array(ref("AccessTokenMetadata"))}),
}
