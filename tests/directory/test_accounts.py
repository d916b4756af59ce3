"""Local accounts: the built-in administrator and password sign-in (issue 3 item 4)."""

from __future__ import annotations

import pytest

from scimhub.directory.accounts import ADMIN_USER_NAME, Accounts
from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.roles import Privilege, Role
from scimhub.domain.users import User
from scimhub.errors import Forbidden, InvalidValue, NotFound, Unauthorized
from scimhub.wiring import Services, now_micros
from tests.directory.conftest import add_group, add_user

PASSWORD = "correct horse battery staple"


def refusal(hub: Services, user_name: str, password: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        hub.accounts.sign_in(user_name, password)
    return caught.value.detail


def test_admin_is_created_once_with_the_configured_password(hub: Services) -> None:
    """With SCIMHUB_ADMIN_PASSWORD, admin gets that password, nothing is generated, and it holds Admin."""
    admin, generated = hub.accounts.ensure_admin(PASSWORD)
    assert generated is None
    assert admin.user_name == ADMIN_USER_NAME and admin.provisioned_roles == {Role.ADMIN}
    actor = hub.accounts.sign_in("admin", PASSWORD)
    assert actor.user_id == admin.id and actor.privileges == frozenset(Privilege)
    again, generated = hub.accounts.ensure_admin("another password")
    assert again == admin and generated is None
    refusal(hub, "admin", "another password")


def test_admin_gets_a_generated_password_returned_only_once(hub: Services) -> None:
    """Without a configured password one is generated, returned by the call that creates admin only."""
    admin, generated = hub.accounts.ensure_admin()
    assert generated is not None and len(generated) >= 16
    assert hub.accounts.sign_in("admin", generated).user_id == admin.id
    assert hub.accounts.ensure_admin() == (admin, None)


def test_admin_can_be_created_without_a_password(hub: Services) -> None:
    """With generate=False and nothing configured (``serve``), admin has no password until one is set."""
    admin, generated = hub.accounts.ensure_admin(generate=False)
    assert generated is None and admin.password_hash is None and admin.provisioned_roles == {Role.ADMIN}
    hub.accounts.set_password(SYSTEM, "admin", PASSWORD)
    assert hub.accounts.sign_in("admin", PASSWORD).user_id == admin.id


def test_a_disabled_admin_password_stays_disabled(hub: Services) -> None:
    """Bootstrapping happens on creation only: a later start does not give admin a new password."""
    hub.accounts.ensure_admin(PASSWORD)
    assert hub.accounts.disable_password(SYSTEM, "admin") is True
    admin, generated = hub.accounts.ensure_admin()
    assert generated is None and admin.password_hash is None


def test_a_too_short_configured_admin_password_is_refused(hub: Services) -> None:
    """SCIMHUB_ADMIN_PASSWORD shorter than eight characters is refused, and no admin is created."""
    with pytest.raises(InvalidValue, match="at least 8"):
        hub.accounts.ensure_admin("short")
    with pytest.raises(NotFound):
        hub.users.find("admin")


def test_losing_the_race_to_create_admin_keeps_the_winners_password(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that finds no admin, then fails to create it (another did), returns the stored one."""
    other = Accounts(hub.store, now_micros, Users(hub.store, now_micros))  # another process
    create = hub.users.create

    def create_after_the_other(actor: Actor, edit: UserEdit) -> User:
        other.ensure_admin(PASSWORD)  # wins between this process's look and its insert
        return create(actor, edit)

    monkeypatch.setattr(hub.users, "create", create_after_the_other)
    admin, generated = hub.accounts.ensure_admin()
    assert generated is None and admin.user_name == "admin"
    assert hub.accounts.sign_in("admin", PASSWORD).user_id == admin.id


def test_every_refusal_reads_the_same(hub: Services) -> None:
    """Unknown user, user without a password and wrong password get one message: no name is confirmed."""
    add_user(hub, "alice", PASSWORD)
    add_user(hub, "bob")
    messages = {
        refusal(hub, "alice", "wrong password"),
        refusal(hub, "nobody", PASSWORD),
        refusal(hub, "bob", ""),
    }
    assert messages == {"the user name or password is wrong"}


def test_every_refusal_costs_one_argon2_verification(hub: Services, argon2_verifications: list[str]) -> None:
    """Unknown users and users without a password are verified against a dummy hash of the same cost."""
    stored = add_user(hub, "alice", PASSWORD).password_hash
    add_user(hub, "bob")
    verified = argon2_verifications
    for user_name in ("alice", "nobody", "bob"):
        refusal(hub, user_name, "wrong password")
    assert stored is not None and len(verified) == 3
    parameters = {hash.rsplit("$", 2)[0] for hash in verified}  # $argon2id$v=19$m=…,t=…,p=…
    assert parameters == {stored.rsplit("$", 2)[0]}
    assert verified[1] == verified[2] != stored


def test_a_suspended_user_is_refused_even_with_the_right_password(hub: Services) -> None:
    """Sign-in refuses a suspended user, and accepts it again once reactivated."""
    user = add_user(hub, "carol", PASSWORD, active=False)
    assert "suspended" in refusal(hub, "carol", PASSWORD)
    hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "active": True}))
    assert hub.accounts.sign_in("carol", PASSWORD).user_id == user.id


def test_provisioned_users_have_no_password_until_one_is_set(hub: Services) -> None:
    """A SCIM user cannot sign in until an administrator sets a password; the old one stops working."""
    user = add_user(hub, "dave")
    assert user.password_hash is None
    refusal(hub, "dave", PASSWORD)
    hub.accounts.set_password(SYSTEM, "DAVE", PASSWORD)
    assert hub.accounts.sign_in("dave", PASSWORD).user_id == user.id
    hub.accounts.set_password(SYSTEM, "dave", "a new passphrase")
    refusal(hub, "dave", PASSWORD)
    assert hub.accounts.sign_in("Dave", "a new passphrase").urn == "urn:li:corpuser:dave"


def test_disabling_a_password_stops_sign_in(hub: Services) -> None:
    """disable_password() clears the hash and tells whether there was one."""
    add_user(hub, "erin", PASSWORD)
    assert hub.accounts.disable_password(SYSTEM, "erin") is True
    assert hub.accounts.disable_password(SYSTEM, "erin") is False
    refusal(hub, "erin", PASSWORD)
    assert hub.users.find("erin").user.password_hash is None


def test_setting_a_password_needs_manage_user_credentials(hub: Services) -> None:
    """An actor without MANAGE_USER_CREDENTIALS may neither set nor clear a password."""
    user = add_user(hub, "frank")
    editor = Actor(user.id, user.urn, privileges=Role.EDITOR.privileges)
    with pytest.raises(Forbidden, match="MANAGE_USER_CREDENTIALS"):
        hub.accounts.set_password(editor, "frank", PASSWORD)
    with pytest.raises(Forbidden, match="MANAGE_USER_CREDENTIALS"):
        hub.accounts.disable_password(editor, "frank")


def test_a_new_password_must_be_long_enough_and_the_user_must_exist(hub: Services) -> None:
    """Passwords shorter than eight characters, or for nobody, are refused."""
    add_user(hub, "grace")
    with pytest.raises(InvalidValue, match="at least 8"):
        hub.accounts.set_password(SYSTEM, "grace", "1234567")
    with pytest.raises(NotFound, match="nobody"):
        hub.accounts.set_password(SYSTEM, "nobody", PASSWORD)


def test_sign_in_grants_the_privileges_of_the_effective_roles(hub: Services) -> None:
    """The signed-in actor holds what its direct and group roles grant."""
    user = add_user(hub, "heidi", PASSWORD)
    group = add_group(hub, "Editors", user)
    assert hub.accounts.sign_in("heidi", PASSWORD).privileges == frozenset()
    hub.roles.assign(SYSTEM, Role.EDITOR, "group", group.id)
    assert hub.accounts.sign_in("heidi", PASSWORD).privileges == Role.EDITOR.privileges
