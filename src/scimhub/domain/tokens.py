"""Personal access tokens in DataHub's format (ADR 0005).

A token is an HS256 JWT carrying DataHub's claims (``version`` "2" for stateful
personal tokens, ``type`` PERSONAL, ``actorType`` USER, ``actorId``/``sub``, ``jti``,
``iss`` datahub-metadata-service, ``exp`` unless it never expires), so DataHub's
tooling recognises it. Like DataHub's StatefulTokenService the server keeps only
``base64(sha256(token ‖ salt))``: the signature proves the token was issued here,
the stored hash proves it was not revoked.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt

ISSUER = "datahub-metadata-service"
ALGORITHM = "HS256"
MAX_NAME = 256
"""The most characters of a token's name: a label a person reads in a list."""
MAX_DESCRIPTION = 4 * MAX_NAME
"""The most characters of a token's description."""
_HOUR = 3600 * 1_000_000
_DAY = 24 * _HOUR


class Duration(StrEnum):
    """DataHub's AccessTokenDuration values."""

    ONE_HOUR = "ONE_HOUR"
    ONE_DAY = "ONE_DAY"
    ONE_WEEK = "ONE_WEEK"
    ONE_MONTH = "ONE_MONTH"
    THREE_MONTHS = "THREE_MONTHS"
    SIX_MONTHS = "SIX_MONTHS"
    ONE_YEAR = "ONE_YEAR"
    NO_EXPIRY = "NO_EXPIRY"

    @property
    def micros(self) -> int | None:
        """Return the lifetime in microseconds, or None for NO_EXPIRY."""
        return _LIFETIMES[self]

    @classmethod
    def read(cls, text: str) -> Duration:
        """Return the duration named ``text`` (any case, ``-`` for ``_``).

        :raises ValueError: When ``text`` names no duration; the message lists them.
        """
        key = text.strip().upper().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(d.value for d in cls)
            raise ValueError(f"unknown duration {text!r}; use one of {names}") from None


_LIFETIMES: dict[Duration, int | None] = {
    Duration.ONE_HOUR: _HOUR,
    Duration.ONE_DAY: _DAY,
    Duration.ONE_WEEK: 7 * _DAY,
    Duration.ONE_MONTH: 30 * _DAY,
    Duration.THREE_MONTHS: 90 * _DAY,
    Duration.SIX_MONTHS: 180 * _DAY,
    Duration.ONE_YEAR: 365 * _DAY,
    Duration.NO_EXPIRY: None,
}


class Revoked(StrEnum):
    """Why a token stopped being valid before its expiry: told back to whoever presents it later."""

    BY_REQUEST = "revoked"
    """Its user, or an administrator, revoked it."""
    USER_DELETED = "user deleted"
    """The user it acted as was deleted, and its tokens with it."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed token; ``token`` is shown once and never stored."""

    token: str
    id: str
    """The JWT ``jti``, the public identifier used to list and revoke."""
    expires: int | None


def sign_token(actor_name: str, key: bytes, now: int, duration: Duration) -> IssuedToken:
    """Return a new personal access token for ``actor_name``, valid from ``now`` (µs)."""
    token_id = str(uuid.uuid4())
    lifetime = duration.micros
    expires = None if lifetime is None else now + lifetime
    claims: dict[str, object] = {
        "actorType": "USER",
        "actorId": actor_name,
        "type": "PERSONAL",
        "version": "2",
        "jti": token_id,
        "sub": actor_name,
        "iss": ISSUER,
        "iat": now // 1_000_000,
    }
    if expires is not None:
        claims["exp"] = expires // 1_000_000
    return IssuedToken(jwt.encode(claims, key, algorithm=ALGORITHM), token_id, expires)


def verify_signature(token: str, key: bytes) -> dict[str, object]:
    """Return the claims of ``token`` if it is a well-formed personal token signed with ``key``.

    Expiry is not checked here: the stored ``expires`` is the authority, and it is
    checked on the same read that checks revocation.

    :raises ValueError: When the token is malformed, forged or of another kind.
    """
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False, "require": ["jti", "sub", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise ValueError(str(error)) from None
    if claims.get("type") != "PERSONAL" or claims.get("version") != "2":
        raise ValueError("not a personal access token")
    return claims


def hash_token(token: str, salt: bytes) -> str:
    """Return DataHub's stored form of a token: ``base64(sha256(token ‖ salt))``."""
    return base64.b64encode(hashlib.sha256(token.encode() + salt).digest()).decode()
