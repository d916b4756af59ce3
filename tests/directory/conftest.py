"""Services on a fresh database (SQLite and PostgreSQL), and helpers that seed it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.users import User
from scimhub.settings import Settings
from scimhub.wiring import Services, build, now_micros


@pytest.fixture
def hub(database_url: str) -> Iterator[Services]:
    """Yield the services of a fresh, migrated database, once per backend."""
    services = build(Settings(database_url=database_url))
    yield services
    services.close()


class Clock:
    """A clock the test moves: ``now`` in microseconds since the epoch, as the services read it."""

    def __init__(self) -> None:
        self.now = now_micros()

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list every argon2 verification from now on appends its hash to (then verifies it)."""
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(hash if isinstance(hash, str) else hash.decode())
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return verified


def add_user(hub: Services, user_name: str, password: str | None = None, **doc: Any) -> User:
    """Store a user as a SCIM client would, with ``doc`` as its other attributes."""
    return hub.users.create(SYSTEM, UserEdit({"userName": user_name, **doc}, password))


def add_group(hub: Services, display_name: str, *members: User | Group) -> Group:
    """Store a group with ``members``."""
    change = MemberChange(add=tuple(Member(m.id) for m in members))
    return hub.groups.create(SYSTEM, GroupEdit({"displayName": display_name}, change))
