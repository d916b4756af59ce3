"""Use cases on personal access tokens: issue, authenticate, list, revoke.

Every authentication reads the token's hash from the database, so a revocation
or an expiry bites on the very next request on every process (DataHub caches
revocations for five minutes; we do not).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.users import Clock, UserEdit, Users
from scimhub.domain.roles import Privilege, privileges_of
from scimhub.domain.tokens import Duration, IssuedToken, hash_token, sign_token, verify_signature
from scimhub.domain.users import User
from scimhub.errors import Forbidden, InvalidValue, NotFound, Unauthorized
from scimhub.store.contract import Store, TokenRecord

ADMIN_USER_NAME = "admin"
LAST_USED_RESOLUTION = 60 * 1_000_000
"""``last_used`` is written at most once a minute per token: a read path stays read-mostly."""


@dataclass(frozen=True)
class TokenKeys:
    """The HS256 signing key and the hash salt every process shares."""

    signing_key: bytes
    salt: bytes

    @classmethod
    def load(cls, store: Store, signing_key: str | None, salt: str | None) -> TokenKeys:
        """Return the configured keys, or the ones generated once and kept in the database."""
        with store.transaction() as tx:
            key = signing_key or tx.secrets.get_or_create("token_signing_key", secrets.token_urlsafe(48))
            stored_salt = salt or tx.secrets.get_or_create("token_salt", secrets.token_urlsafe(24))
        return cls(key.encode(), stored_salt.encode())


@dataclass(frozen=True)
class TokenView:
    """A stored token with the names of the users it belongs to."""

    record: TokenRecord
    actor_name: str
    owner_name: str


class Tokens:
    """Issue and check DataHub-format personal access tokens."""

    def __init__(self, store: Store, clock: Clock, keys: TokenKeys, users: Users) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._users = users

    def ensure_admin(self) -> User:
        """Return the built-in administrator, creating it (with the Admin role) on first use."""
        with self._store.read() as tx:
            admin = tx.users.get_by_name(ADMIN_USER_NAME)
        if admin is not None:
            return admin
        doc = {
            "userName": ADMIN_USER_NAME,
            "displayName": "Administrator",
            "active": True,
            "roles": [{"value": "Admin", "primary": True}],
        }
        return self._users.create(SYSTEM, UserEdit(doc))

    def issue(
        self,
        owner: Actor,
        user_name: str,
        name: str,
        duration: Duration = Duration.NO_EXPIRY,
        description: str | None = None,
    ) -> tuple[IssuedToken, TokenRecord]:
        """Sign a new token acting as ``user_name`` and store its hash.

        A token for oneself needs GENERATE_PERSONAL_ACCESS_TOKENS; one for anybody
        else needs MANAGE_ACCESS_TOKENS (DataHub's rules).

        :raises Forbidden: When ``owner`` lacks the privilege.
        :raises NotFound: When no user has that userName.
        :raises InvalidValue: When the name is empty.
        """
        if not name.strip():
            raise InvalidValue("a token needs a name")
        now = self._clock()
        with self._store.transaction() as tx:
            actor = tx.users.get_by_name(user_name)
            if actor is None:
                if Privilege.MANAGE_ACCESS_TOKENS not in owner.privileges:
                    raise Forbidden("creating a token for another user needs the MANAGE_ACCESS_TOKENS privilege")
                raise NotFound(f"no user has the userName '{user_name}'")
            if actor.id == owner.user_id and Privilege.MANAGE_ACCESS_TOKENS not in owner.privileges:
                owner.require(Privilege.GENERATE_PERSONAL_ACCESS_TOKENS, "Creating a personal access token")
            elif actor.id != owner.user_id:
                owner.require(Privilege.MANAGE_ACCESS_TOKENS, "Creating a token for another user")
            issued = sign_token(actor.user_name, self._keys.signing_key, now, duration)
            record = TokenRecord(
                id=issued.id,
                hash=hash_token(issued.token, self._keys.salt),
                name=name.strip(),
                description=description,
                actor_id=actor.id,
                owner_id=owner.user_id or actor.id,
                created=now,
                expires=issued.expires,
                last_used=None,
            )
            tx.tokens.insert(record)
        return issued, record

    def authenticate(self, token: str) -> Actor:
        """Return the actor a bearer token stands for.

        :raises Unauthorized: When the token is malformed, forged, unknown, revoked
            or expired, or its user is suspended or gone. The detail says which,
            never echoing the token.
        """
        try:
            verify_signature(token, self._keys.signing_key)
        except ValueError:
            raise Unauthorized("the bearer token is malformed or was not issued by this server") from None
        now = self._clock()
        with self._store.read() as tx:
            record = tx.tokens.find(hash_token(token, self._keys.salt))
            user = tx.users.get(record.actor_id) if record else None
            grants = tx.roles.grants([user.id])[user.id] if user else []
        if record is None or user is None:
            raise Unauthorized("the bearer token has been revoked")
        if record.expires is not None and record.expires <= now:
            raise Unauthorized("the bearer token has expired")
        if not user.active:
            raise Unauthorized(f"the token's user '{user.user_name}' is suspended")
        if record.last_used is None or now - record.last_used > LAST_USED_RESOLUTION:
            with self._store.transaction() as tx:
                tx.tokens.touch(record.id, now)
        return Actor(user.id, user.urn, record.id, privileges_of(g.role for g in grants))

    def list(self, viewer: Actor) -> list[TokenView]:
        """Return the viewer's tokens, or every token with MANAGE_ACCESS_TOKENS, newest first."""
        with self._store.read() as tx:
            everyone = Privilege.MANAGE_ACCESS_TOKENS in viewer.privileges
            records = tx.tokens.list(None if everyone else viewer.user_id)
            names = tx.users.names({r.actor_id for r in records} | {r.owner_id for r in records})
        return [TokenView(r, names.get(r.actor_id, ""), names.get(r.owner_id, "")) for r in records]

    def revoke(self, viewer: Actor, token_id: str) -> None:
        """Revoke a token at once, everywhere: one's own, or any with MANAGE_ACCESS_TOKENS.

        :raises NotFound: When there is no such token the viewer may see.
        """
        with self._store.transaction() as tx:
            record = tx.tokens.get(token_id)
            if record is None:
                raise NotFound(f"no token has the id {token_id}")
            if viewer.user_id not in (record.actor_id, record.owner_id):
                viewer.require(Privilege.MANAGE_ACCESS_TOKENS, "Revoking another user's token")
            tx.tokens.delete(token_id)
