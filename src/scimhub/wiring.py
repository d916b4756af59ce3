"""The composition root: settings → engine, store, use cases and the SCIM handler.

Every piece is built here, explicitly, once per process; nothing else constructs
services or reads configuration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from scimhub.directory.groups import Groups
from scimhub.directory.roles import Roles
from scimhub.directory.tokens import TokenKeys, Tokens
from scimhub.directory.users import Users
from scimhub.scim.handler import ScimHandler
from scimhub.settings import Settings
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore


def now_micros() -> int:
    """Return the wall-clock time in microseconds since the epoch."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Services:
    """Everything a process serves with."""

    settings: Settings
    engine: Engine
    store: SqlStore
    users: Users
    groups: Groups
    roles: Roles
    tokens: Tokens
    scim: ScimHandler

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def build(settings: Settings, *, upgrade: bool = True) -> Services:
    """Return the services for ``settings``, migrating the database first when ``upgrade``."""
    engine = make_engine(settings.database_url)
    if upgrade:
        migrate.upgrade(engine)
    store = SqlStore(engine)
    users = Users(store, now_micros)
    groups = Groups(store, now_micros)
    keys = TokenKeys.load(
        store,
        settings.token_signing_key.reveal() if settings.token_signing_key else None,
        settings.token_salt.reveal() if settings.token_salt else None,
    )
    tokens = Tokens(store, now_micros, keys, users)
    handler = ScimHandler(users, groups, settings)
    return Services(settings, engine, store, users, groups, Roles(store, now_micros), tokens, handler)
