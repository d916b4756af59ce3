"""Use cases on personal access tokens: issue, authenticate, list, revoke.

Every authentication reads the token's hash from the database, so a revocation
or an expiry bites on the very next request on every process (DataHub caches
revocations for five minutes; we do not).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

from scimhub.directory.actors import Actor
from scimhub.directory.users import Clock, UserRef
from scimhub.domain.roles import Privilege, Role, privileges_of
from scimhub.domain.tokens import (
    MAX_DESCRIPTION,
    MAX_NAME,
    Duration,
    IssuedToken,
    Revoked,
    hash_token,
    sign_token,
    verify_signature,
)
from scimhub.errors import Forbidden, InvalidValue, NotFound, Unauthorized
from scimhub.store.contract import Store, Transaction
from scimhub.store.records import TokenRecord

LAST_USED_RESOLUTION = 60 * 1_000_000
"""``last_used`` is written at most once a minute per token: a read path stays read-mostly."""


@dataclass(frozen=True)
class Verified:
    """A bearer token found valid: whom it acts as, when, and whether its ``last_used`` is due a write."""

    actor: Actor
    at: int
    touch_due: bool


@dataclass(frozen=True)
class TokenKeys:
    """The HS256 signing key and the hash salt every process shares."""

    signing_key: bytes
    salt: bytes

    @classmethod
    def configured(cls, signing_key: str | None, salt: str | None) -> TokenKeys:
        """Return the configured keys, as production takes them: never generated, never from the database.

        :raises ValueError: When a key is missing or too weak (ADR 0027); the message says what to set.
        """
        problems = production_key_problems(signing_key, salt)
        if problems or signing_key is None or salt is None:
            raise ValueError("SCIMHUB_ENV=production: " + "; ".join(problems))
        return cls(signing_key.encode(), salt.encode())

    @classmethod
    def load(cls, store: Store, signing_key: str | None, salt: str | None) -> TokenKeys:
        """Return the configured keys, or the ones generated once and kept in the database."""
        with store.transaction() as tx:
            key = signing_key or tx.secrets.get_or_create("token_signing_key", secrets.token_urlsafe(48))
            stored_salt = salt or tx.secrets.get_or_create("token_salt", secrets.token_urlsafe(24))
        return cls(key.encode(), stored_salt.encode())


MIN_SIGNING_KEY_BYTES = 32
"""An HS256 key at least as long as the hash it keys (RFC 7518 §3.2: 256 bits)."""
MIN_SALT_BYTES = 16
_GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def production_key_problems(signing_key: str | None, salt: str | None) -> list[str]:
    """Return what keeps the configured signing key and salt from serving in production (ADR 0027).

    Each problem names the variable to set and how to make a value; none means both are fit.
    """
    problems = []
    for variable, value, least in (
        ("SCIMHUB_TOKEN_SIGNING_KEY", signing_key, MIN_SIGNING_KEY_BYTES),
        ("SCIMHUB_TOKEN_SALT", salt, MIN_SALT_BYTES),
    ):
        if not value:
            problems.append(f"set {variable} or {variable}_FILE (make one with {_GENERATE})")
        elif len(value.encode()) < least:
            problems.append(f"{variable} must be at least {least} bytes long (make one with {_GENERATE})")
    if signing_key and signing_key == salt:
        problems.append("SCIMHUB_TOKEN_SIGNING_KEY and SCIMHUB_TOKEN_SALT must differ")
    return problems


@dataclass(frozen=True)
class TokenView:
    """A stored token with the DataHub URNs of the users it belongs to."""

    record: TokenRecord
    actor_urn: str
    """The actor's stored URN, which a rename does not change (ADR 0008)."""
    owner_urn: str | None
    """None once the user who created the token is deleted; the token lives on."""


class Tokens:
    """Issue and check DataHub-format personal access tokens."""

    def __init__(self, store: Store, clock: Clock, keys: TokenKeys) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        # A signature checks out or not forever, for one key, and so does a token's hash for one
        # salt: remember both for the tokens that did (a client sends the same one on every
        # request). Forged tokens raise and are not remembered. Revocation and expiry are read
        # from the database anyway.
        self._signed = lru_cache(maxsize=1024)(partial(verify_signature, key=keys.signing_key))
        self._hashed = lru_cache(maxsize=1024)(partial(hash_token, salt=keys.salt))

    def issue(
        self,
        owner: Actor,
        user: UserRef,
        name: str,
        duration: Duration = Duration.NO_EXPIRY,
        description: str | None = None,
    ) -> tuple[IssuedToken, TokenView]:
        """Sign a new token acting as ``user``, store its hash, and return it with its metadata.

        A token for oneself needs GENERATE_PERSONAL_ACCESS_TOKENS; one for anybody
        else needs MANAGE_ACCESS_TOKENS (DataHub's rules). The metadata names the
        actor by its stored URN, whatever its userName is now (ADR 0008).

        The name and the description are kept without surrounding white space (an empty description
        is none), and measured so: every caller, the console, the JSON API and the CLI, gets one answer.

        :raises Forbidden: When ``owner`` lacks the privilege.
        :raises NotFound: When ``user`` names nobody: no user has that userName, or that URN.
        :raises InvalidValue: When the name is empty, or it or the description is longer than
            ``MAX_NAME`` or ``MAX_DESCRIPTION`` characters.
        """
        name, description = name.strip(), (description or "").strip() or None
        if not name:
            raise InvalidValue("a token needs a name")
        if len(name) > MAX_NAME or len(description or "") > MAX_DESCRIPTION:
            limits = f"at most {MAX_NAME} characters, its description {MAX_DESCRIPTION}"
            raise InvalidValue(f"a token's name is {limits}")
        now = self._clock()
        with self._store.transaction() as tx:
            actor = user.find(tx.users)
            if actor is None:
                if Privilege.MANAGE_ACCESS_TOKENS not in owner.privileges:
                    raise Forbidden(
                        "creating a token for another user needs the MANAGE_ACCESS_TOKENS privilege"
                    )
                raise user.missing()
            if actor.id == owner.user_id and Privilege.MANAGE_ACCESS_TOKENS not in owner.privileges:
                owner.require(Privilege.GENERATE_PERSONAL_ACCESS_TOKENS, "Creating a personal access token")
            elif actor.id != owner.user_id:
                owner.require(Privilege.MANAGE_ACCESS_TOKENS, "Creating a token for another user")
            issued = sign_token(actor.user_name, self._keys.signing_key, now, duration)
            record = TokenRecord(
                id=issued.id,
                hash=hash_token(issued.token, self._keys.salt),
                name=name,
                description=description,
                actor_id=actor.id,
                owner_id=owner.user_id or actor.id,
                created=now,
                expires=issued.expires,
                last_used=None,
            )
            tx.tokens.insert(record)
            return issued, _views(tx, [record])[0]

    def authenticate(self, token: str) -> Actor:
        """Return the actor a bearer token stands for, and note its use: ``verify``, then ``touch``.

        :raises Unauthorized: As ``verify`` does.
        """
        verified = self.verify(token)
        if verified.touch_due:
            self.touch(verified)
        return verified.actor

    def verify(self, token: str) -> Verified:
        """Return the actor a bearer token stands for, and whether its ``last_used`` is due; write nothing.

        :raises Unauthorized: When the token is malformed, forged, unknown, revoked
            or expired, or its user is suspended or gone. The detail says which,
            never echoing the token.
        """
        try:
            self._signed(token)
        except ValueError:
            detail = "the bearer token is malformed or was not issued by this server"
            raise Unauthorized(detail, "malformed") from None
        now = self._clock()
        # One statement (ADR 0040), read afresh unless nothing at all was committed since the
        # same connection last read it (SQLite, ADR 0059): a revocation, a suspension or a role
        # change made by any process is seen at the next request. Expiry is checked here, each time.
        found = self._store.credential(self._hashed(token))  # asked of signed tokens only
        if found is None:
            raise self._refusal(token)
        if found.expires is not None and found.expires <= now:
            raise Unauthorized("the bearer token has expired", "expired")
        if not found.active:
            raise Unauthorized(f"the token's user '{found.user_name}' is suspended", "suspended")
        touch_due = found.last_used is None or now - found.last_used > LAST_USED_RESOLUTION
        return Verified(
            Actor(found.user_id, found.urn, found.token_id, _privileges(found.roles)), now, touch_due
        )

    def touch(self, verified: Verified) -> None:
        """Write when the verified token was used (at most once a minute per token: ``touch_due``)."""
        token_id = verified.actor.token_id
        assert token_id is not None  # ``verify`` makes actors of stored tokens only
        with self._store.transaction() as tx:
            tx.tokens.touch(token_id, verified.at)

    def list(self, viewer: Actor, actor: UserRef | None = None) -> list[TokenView]:
        """Return the viewer's tokens, or with MANAGE_ACCESS_TOKENS every token, newest first.

        ``actor`` keeps only the tokens acting as that user (none if there is no
        such user).

        :raises Forbidden: When a viewer without MANAGE_ACCESS_TOKENS names another user.
        """
        everyone = Privilege.MANAGE_ACCESS_TOKENS in viewer.privileges
        with self._store.read() as tx:
            actor_id = None if everyone else viewer.user_id
            if actor is not None:
                named = actor.find(tx.users)
                if named is None or named.id != viewer.user_id:
                    viewer.require(Privilege.MANAGE_ACCESS_TOKENS, "Listing another user's tokens")
                if named is None:
                    return []
                actor_id = named.id
            return _views(tx, tx.tokens.list(actor_id))

    def get(self, viewer: Actor, token_id: str) -> TokenView:
        """Return one token's metadata (never the token): one's own, or any with MANAGE_ACCESS_TOKENS.

        :raises NotFound: When there is no such token.
        :raises Forbidden: When it is another user's and the viewer lacks MANAGE_ACCESS_TOKENS.
        """
        with self._store.read() as tx:
            return _views(tx, [_visible(tx, viewer, token_id, "Reading another user's token")])[0]

    def revoke(self, viewer: Actor, token_id: str) -> None:
        """Revoke a token at once, everywhere: one's own, or any with MANAGE_ACCESS_TOKENS.

        :raises NotFound: When there is no such token.
        :raises Forbidden: When it is another user's and the viewer lacks MANAGE_ACCESS_TOKENS.
        """
        with self._store.transaction() as tx:
            _visible(tx, viewer, token_id, "Revoking another user's token")
            tx.tokens.revoke(token_id, self._clock())

    def _refusal(self, token: str) -> Unauthorized:
        """Return why a well-signed token that names no stored token is refused."""
        with self._store.read() as tx:
            revocation = tx.tokens.revocation(str(self._signed(token).get("jti")))
        if revocation is not None and revocation.reason is Revoked.USER_DELETED:
            return Unauthorized("the bearer token's user was deleted", "user_deleted")
        return Unauthorized("the bearer token has been revoked", "revoked")


@lru_cache(maxsize=64)
def _privileges(roles: tuple[str, ...]) -> frozenset[Privilege]:
    """Return the privileges of these roles (a handful of combinations exist: remembered)."""
    return privileges_of(Role(role) for role in roles)


def _visible(tx: Transaction, viewer: Actor, token_id: str, action: str) -> TokenRecord:
    """Return a token the viewer acts as or owns, or any with MANAGE_ACCESS_TOKENS.

    A token whose owner was deleted (``owner_id`` None) is its actor's alone.
    """
    record = tx.tokens.get(token_id)
    if record is None:
        raise _gone(tx, viewer, token_id)
    if viewer.user_id not in (record.actor_id, record.owner_id):
        viewer.require(Privilege.MANAGE_ACCESS_TOKENS, action)
    return record


def _gone(tx: Transaction, viewer: Actor, token_id: str) -> NotFound:
    """Return the error for a token id no stored token has: revoked (and by what), or never issued.

    Only whoever could have seen the token learns that it was revoked.
    """
    revocation = tx.tokens.revocation(token_id)
    if revocation is None or (
        viewer.user_id != revocation.actor_id and Privilege.MANAGE_ACCESS_TOKENS not in viewer.privileges
    ):
        return NotFound(f"no token has the id {token_id}")
    if revocation.reason is Revoked.USER_DELETED:
        return NotFound(f"token {token_id} was revoked when its user was deleted")
    return NotFound(f"token {token_id} was already revoked")


def _views(tx: Transaction, records: Sequence[TokenRecord]) -> list[TokenView]:
    ids = {r.actor_id for r in records} | {r.owner_id for r in records if r.owner_id is not None}
    urns = tx.users.urns(ids)
    return [TokenView(r, urns.get(r.actor_id, ""), _of_owner(urns, r)) for r in records]


def _of_owner(found: Mapping[str, str], record: TokenRecord) -> str | None:
    """Return what ``found`` holds for the token's owner: None once the owner was deleted."""
    return None if record.owner_id is None else found.get(record.owner_id)
