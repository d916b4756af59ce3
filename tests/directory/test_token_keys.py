"""Where the token signing key and the hash salt come from (ADR 0027), on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.tokens import TokenKeys, production_key_problems
from scimhub.directory.users import UserRef
from scimhub.settings import Secret, Settings
from scimhub.store.sql.tables import server_secrets
from scimhub.wiring import Services, build

KEY = "k" * 48
SALT = "s" * 24


def stored_secrets(hub: Services) -> int:
    with hub.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(server_secrets)).scalar_one()


def test_development_generates_the_keys_once_into_the_database(hub: Services) -> None:
    """Unset in development, the key and salt are generated once and every later load returns them."""
    first = TokenKeys.load(hub.store, None, None)
    assert TokenKeys.load(hub.store, None, None) == first
    assert stored_secrets(hub) == 2


def test_production_takes_the_configured_keys_and_writes_nothing(database_url: str) -> None:
    """In production the configured key and salt serve, and no key is generated into the database."""
    hub = build(
        Settings(
            database_url=database_url,
            env="production",
            token_signing_key=Secret(KEY),
            token_salt=Secret(SALT),
        )
    )
    try:
        assert stored_secrets(hub) == 0
        hub.accounts.ensure_admin("a-long-admin-password-1")
        issued, _ = hub.tokens.issue(SYSTEM, UserRef.by_name("admin"), name="ci")
        assert hub.tokens.authenticate(issued.token).user_id is not None
    finally:
        hub.close()


def test_production_refuses_to_start_without_the_keys(database_url: str) -> None:
    """Without a configured key, production does not start, and says what to set and how to make it."""
    with pytest.raises(ValueError) as refused:
        build(Settings(database_url=database_url, env="production", token_salt=Secret(SALT)))
    message = str(refused.value)
    assert message.startswith(
        "SCIMHUB_ENV=production: set SCIMHUB_TOKEN_SIGNING_KEY or SCIMHUB_TOKEN_SIGNING_KEY_FILE"
    )
    assert "secrets.token_urlsafe" in message


def test_production_ignores_keys_generated_into_the_database_earlier(hub: Services) -> None:
    """A database that holds generated keys does not stand in for configured ones in production."""
    TokenKeys.load(hub.store, None, None)
    with pytest.raises(ValueError, match="SCIMHUB_TOKEN_SALT"):
        build(
            Settings(database_url=hub.settings.database_url, env="production", token_signing_key=Secret(KEY))
        )


def test_weak_keys_are_named() -> None:
    """A short key (HS256 wants 32 bytes, RFC 7518 §3.2), a short salt, or one value for both are refused."""
    assert production_key_problems(KEY, SALT) == []
    short_key, short_salt = production_key_problems("k" * 31, "s" * 15)
    assert "SCIMHUB_TOKEN_SIGNING_KEY must be at least 32 bytes" in short_key
    assert "SCIMHUB_TOKEN_SALT must be at least 16 bytes" in short_salt
    assert production_key_problems(KEY, KEY) == [
        "SCIMHUB_TOKEN_SIGNING_KEY and SCIMHUB_TOKEN_SALT must differ"
    ]
