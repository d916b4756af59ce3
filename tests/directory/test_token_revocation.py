"""A token that is gone says why: revoked, or revoked with its deleted user; told only to who may know."""

from __future__ import annotations

import pytest

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.users import UserRef
from scimhub.domain.roles import Privilege
from scimhub.errors import NotFound, Unauthorized
from scimhub.wiring import Services
from tests.directory.conftest import add_user

SELF_SERVICE = frozenset({Privilege.GENERATE_PERSONAL_ACCESS_TOKENS})


def _issue(hub: Services, user_name: str) -> tuple[str, str]:
    """Issue a token acting as ``user_name``; return the token and its id."""
    issued, view = hub.tokens.issue(SYSTEM, UserRef.by_name(user_name), "ci")
    return issued.token, view.record.id


def test_a_revoked_token_is_refused_as_revoked_and_a_second_revoke_says_so(hub: Services) -> None:
    """Revoking twice names the first revocation; the token itself is refused as revoked."""
    add_user(hub, "entra")
    token, token_id = _issue(hub, "entra")
    hub.tokens.revoke(SYSTEM, token_id)
    with pytest.raises(NotFound, match=f"token {token_id} was already revoked"):
        hub.tokens.revoke(SYSTEM, token_id)
    with pytest.raises(Unauthorized, match="the bearer token has been revoked"):
        hub.tokens.authenticate(token)


def test_a_deleted_users_token_is_refused_because_the_user_was_deleted(hub: Services) -> None:
    """Deleting a user revokes its tokens; presenting or revoking one says the user was deleted."""
    entra = add_user(hub, "entra")
    token, token_id = _issue(hub, "entra")
    hub.users.delete(SYSTEM, entra.id)
    with pytest.raises(Unauthorized, match="the bearer token's user was deleted"):
        hub.tokens.authenticate(token)
    with pytest.raises(NotFound, match=f"token {token_id} was revoked when its user was deleted"):
        hub.tokens.revoke(SYSTEM, token_id)


def test_only_who_could_see_a_token_learns_it_was_revoked(hub: Services) -> None:
    """Another user without MANAGE_ACCESS_TOKENS hears 'no token has the id', as for an id never issued."""
    owner, stranger = add_user(hub, "owner"), add_user(hub, "stranger")
    _, token_id = _issue(hub, "owner")
    hub.tokens.revoke(SYSTEM, token_id)
    as_owner = Actor(owner.id, owner.urn, privileges=SELF_SERVICE)
    as_stranger = Actor(stranger.id, stranger.urn, privileges=SELF_SERVICE)
    with pytest.raises(NotFound, match="was already revoked"):
        hub.tokens.revoke(as_owner, token_id)
    with pytest.raises(NotFound, match=f"^no token has the id {token_id}$"):
        hub.tokens.revoke(as_stranger, token_id)
    with pytest.raises(NotFound, match="^no token has the id never-issued$"):
        hub.tokens.revoke(SYSTEM, "never-issued")
