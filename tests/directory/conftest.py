"""Services on a fresh database (SQLite and PostgreSQL), and helpers that seed it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.users import User
from scimhub.settings import Settings
from scimhub.wiring import Services, build


@pytest.fixture
def hub(database_url: str) -> Iterator[Services]:
    """Yield the services of a fresh, migrated database, once per backend."""
    services = build(Settings(database_url=database_url))
    yield services
    services.close()


def add_user(hub: Services, user_name: str, password: str | None = None, **doc: Any) -> User:
    """Store a user as a SCIM client would, with ``doc`` as its other attributes."""
    return hub.users.create(SYSTEM, UserEdit({"userName": user_name, **doc}, password))


def add_group(hub: Services, display_name: str, *members: User | Group) -> Group:
    """Store a group with ``members``."""
    change = MemberChange(add=tuple(Member(m.id) for m in members))
    return hub.groups.create(SYSTEM, GroupEdit({"displayName": display_name}, change))
