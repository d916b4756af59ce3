"""Password hashing with argon2id; SCIM ``password`` is write-only and never stored in clear."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scimhub.errors import InvalidValue

MIN_PASSWORD_LENGTH = 8
"""NIST SP 800-63B §5.1.1.2: at least eight characters for a password the user chooses."""


@dataclass(frozen=True)
class Cost:
    """What one argon2id hash costs: passes, memory in KiB, lanes."""

    time: int
    memory_kib: int
    parallelism: int


DEFAULT_COST = Cost(time=3, memory_kib=64 * 1024, parallelism=4)
"""RFC 9106 §4's second recommended option (64 MiB), which argon2-cffi's defaults follow."""


def _hasher_at(cost: Cost) -> PasswordHasher:
    return PasswordHasher(time_cost=cost.time, memory_cost=cost.memory_kib, parallelism=cost.parallelism)


_hasher = _hasher_at(DEFAULT_COST)


def use_cost(cost: Cost) -> None:
    """Hash new passwords at ``cost`` in this process; a stored hash is always verified at its own.

    The default is ``DEFAULT_COST``. The test suite lowers it (tests/conftest.py): what it tests
    is which password is accepted, never how long a guess takes.
    """
    global _hasher
    _hasher = _hasher_at(cost)
    _dummy_hash.cache_clear()


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
def _dummy_hash() -> str:  # cleared by use_cost: a refusal costs what a stored hash does
    return _hasher.hash(generate_password())
