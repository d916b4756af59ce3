"""Password hashing with argon2id; SCIM ``password`` is write-only and never stored in clear."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scimhub.errors import InvalidValue

MIN_PASSWORD_LENGTH = 8
"""NIST SP 800-63B §5.1.1.2: at least eight characters for a password the user chooses."""

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``, in the same time whether there is a hash or not.

    Without a hash (an unknown user, or one with no password) the password is
    verified against a dummy hash of a random password made with the same
    parameters, so a refusal always costs one argon2 verification and its timing
    does not tell which user names exist.
    """
    dummy = _dummy_hash()  # made before the branch, so the first call is as slow either way
    matched = verify_password(password_hash or dummy, password)
    return matched and password_hash is not None


def check_new_password(password: str) -> None:
    """Refuse a password too short to set.

    :raises InvalidValue: When it has fewer than ``MIN_PASSWORD_LENGTH`` characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def generate_password() -> str:
    """Return a new random password: 128 bits, URL-safe text."""
    return secrets.token_urlsafe(16)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(generate_password())
