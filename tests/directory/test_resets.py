"""One-time password-reset links (ADR 0033): need MANAGE_USER_CREDENTIALS; hashed, single use, expiring."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.resets import RESET_LIFETIME, PasswordResets
from scimhub.directory.sessions import digest
from scimhub.domain.roles import Role
from scimhub.errors import Forbidden, InvalidValue, NotFound, Unauthorized
from scimhub.store.sql.tables import password_resets
from scimhub.wiring import Services
from tests.directory.conftest import add_user
from tests.directory.test_sessions import Clock

NEW_PASSWORD = "a password of my own"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def resets(hub: Services, clock: Clock) -> PasswordResets:
    return PasswordResets(hub.store, clock)


def test_a_link_lets_its_user_choose_a_password_once(hub: Services, resets: PasswordResets) -> None:
    """The user the link is for sets a password and signs in with it; the same link then works no more."""
    user = add_user(hub, "provisioned@contoso.example")
    secret, _ = resets.issue(SYSTEM, user.id)
    found = resets.find(secret)
    assert found is not None and found.id == user.id
    assert resets.redeem(secret, NEW_PASSWORD).id == user.id
    assert hub.accounts.sign_in("provisioned@contoso.example", NEW_PASSWORD).user_id == user.id
    assert resets.find(secret) is None
    with pytest.raises(InvalidValue, match="used already or has expired"):
        resets.redeem(secret, "yet another password")
    hub.accounts.sign_in("provisioned@contoso.example", NEW_PASSWORD)  # the second try changed nothing


def test_only_the_hash_of_the_link_is_stored(hub: Services, resets: PasswordResets) -> None:
    """The database keeps sha256(secret), the user and who issued it; never the secret."""
    user = add_user(hub, "hashed")
    secret, _ = resets.issue(SYSTEM, user.id)
    with hub.engine.connect() as connection:
        rows = connection.execute(select(password_resets)).all()
    assert [(row.hash, row.user_id, row.created_by) for row in rows] == [
        (digest(secret), user.id, SYSTEM.urn)
    ]
    assert secret not in repr(rows)


def test_a_link_expires(hub: Services, resets: PasswordResets, clock: Clock) -> None:
    """After RESET_LIFETIME the link neither opens nor sets a password."""
    user = add_user(hub, "late")
    secret, expires = resets.issue(SYSTEM, user.id)
    assert expires == clock.now + RESET_LIFETIME
    clock.now = expires
    assert resets.find(secret) is None
    with pytest.raises(InvalidValue):
        resets.redeem(secret, NEW_PASSWORD)
    with pytest.raises(Unauthorized):
        hub.accounts.sign_in("late", NEW_PASSWORD)


def test_a_new_link_replaces_the_old_one(hub: Services, resets: PasswordResets) -> None:
    """Issuing again for the same user spends the earlier link."""
    user = add_user(hub, "twice")
    first, _ = resets.issue(SYSTEM, user.id)
    second, _ = resets.issue(SYSTEM, user.id)
    assert resets.find(first) is None and resets.find(second) is not None


def test_a_too_short_password_keeps_the_link(hub: Services, resets: PasswordResets) -> None:
    """A refused password spends nothing: the user can try again with the same link."""
    user = add_user(hub, "short")
    secret, _ = resets.issue(SYSTEM, user.id)
    with pytest.raises(InvalidValue, match="at least 8"):
        resets.redeem(secret, "short")
    assert resets.redeem(secret, NEW_PASSWORD).id == user.id


def test_issuing_needs_manage_user_credentials(hub: Services, resets: PasswordResets) -> None:
    """An Editor (no MANAGE_USER_CREDENTIALS) is refused; an unknown user is a NotFound."""
    user = add_user(hub, "target")
    editor = Actor("editor-id", "urn:li:corpuser:editor", None, Role.EDITOR.privileges)
    with pytest.raises(Forbidden, match="MANAGE_USER_CREDENTIALS"):
        resets.issue(editor, user.id)
    with pytest.raises(NotFound):
        resets.issue(SYSTEM, "no-such-user")


def test_deleting_the_user_deletes_its_links(hub: Services, resets: PasswordResets) -> None:
    """A link dies with its user."""
    user = add_user(hub, "gone")
    secret, _ = resets.issue(SYSTEM, user.id)
    hub.users.delete(SYSTEM, user.id)
    assert resets.find(secret) is None
    with pytest.raises(InvalidValue):
        resets.redeem(secret, NEW_PASSWORD)
