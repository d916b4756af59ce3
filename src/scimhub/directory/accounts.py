"""Local accounts: the built-in administrator, and signing in with a password.

A user signs in with a password only when one was set for it: the built-in
``admin`` gets one when it is created, any other user when an administrator
enables it. Users provisioned over SCIM have none (Entra never sends one), so
they cannot sign in locally until an administrator gives them a password.
"""

from __future__ import annotations

from dataclasses import replace

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.directory.passwords import check_new_password, check_password, generate_password, hash_password
from scimhub.directory.users import Clock, UserEdit, Users
from scimhub.domain.roles import Privilege, privileges_of
from scimhub.domain.users import User
from scimhub.errors import NotFound, Unauthorized, Uniqueness
from scimhub.store.contract import Store, Transaction

ADMIN_USER_NAME = "admin"
"""The built-in administrator, created on first use with the Admin role."""
_ADMIN_DOC = {
    "userName": ADMIN_USER_NAME,
    "displayName": "Administrator",
    "active": True,
    "roles": [{"value": "Admin", "primary": True}],
}
_WRONG = "the user name or password is wrong"
"""One message for an unknown user, a user without a password and a wrong password:
which of them it was is exactly what a guesser wants to learn."""


class Accounts:
    """Create the built-in administrator; set, clear and check passwords."""

    def __init__(self, store: Store, clock: Clock, users: Users) -> None:
        self._store = store
        self._clock = clock
        self._users = users

    def ensure_admin(self, password: str | None = None, generate: bool = True) -> tuple[User, str | None]:
        """Return the built-in administrator, creating it on first use, and the password generated for it.

        The first call creates ``admin`` with the Admin role and a password:
        ``password`` (``SCIMHUB_ADMIN_PASSWORD``) if given, else a generated one,
        which is returned, this once, for the caller to print. Every later call
        (and a call that loses the race to create it) changes nothing and
        returns None for the password: an administrator who disabled admin's
        password does not get a new one on the next start. Without ``password``
        and ``generate``, admin is created without a password (``scimhub serve``:
        its output is a service log, no place for one).

        :raises InvalidValue: When ``password`` is too short.
        """
        existing = self._admin()
        if existing is not None:
            return existing, None
        chosen = password or (generate_password() if generate else None)
        generated = None if password else chosen
        if chosen is not None:
            check_new_password(chosen)
        try:
            return self._users.create(SYSTEM, UserEdit(dict(_ADMIN_DOC), password=chosen)), generated
        except Uniqueness:  # another process created it first; its password stands
            admin = self._admin()
            if admin is None:
                raise
            return admin, None

    def sign_in(self, user_name: str, password: str) -> Actor:
        """Return the actor a user name and password stand for (the console's sign-in).

        The password is checked with argon2 in the same time whether the user
        exists, has a password or not (``check_password``), and the refusal reads
        the same in all three cases. A suspended user is refused even with the
        right password.

        :raises Unauthorized: When the name or password is wrong, the user has no
            password, or the user is suspended.
        """
        with self._store.read() as tx:
            user = tx.users.get_by_name(user_name)
            grants = tx.roles.grants([user.id])[user.id] if user else []
        # argon2 runs after the read transaction: it holds no connection for its ~0.1 s.
        matched = check_password(user.password_hash if user else None, password)
        if user is None or not matched:
            raise Unauthorized(_WRONG)
        if not user.active:
            raise Unauthorized(f"the user '{user.user_name}' is suspended")
        return Actor(user.id, user.urn, None, privileges_of(g.role for g in grants))

    def set_password(self, actor: Actor, user_name: str, password: str) -> None:
        """Let a user sign in with ``password``, replacing any earlier one.

        :raises Forbidden: Without MANAGE_USER_CREDENTIALS.
        :raises InvalidValue: When the password is too short.
        :raises NotFound: When no user has that userName.
        """
        actor.require(Privilege.MANAGE_USER_CREDENTIALS, "Setting a password")
        check_new_password(password)
        self._store.leave_loop()  # argon2id off the event loop (ADR 0055)
        self._write_password(user_name, hash_password(password))

    def disable_password(self, actor: Actor, user_name: str) -> bool:
        """Stop a user signing in with a password; tell whether it had one. Its tokens keep working.

        :raises Forbidden: Without MANAGE_USER_CREDENTIALS.
        :raises NotFound: When no user has that userName.
        """
        actor.require(Privilege.MANAGE_USER_CREDENTIALS, "Disabling a password")
        return self._write_password(user_name, None)

    def _admin(self) -> User | None:
        with self._store.read() as tx:
            return tx.users.get_by_name(ADMIN_USER_NAME)

    def _write_password(self, user_name: str, password_hash: str | None) -> bool:
        """Store a user's new password hash (None: no password) under a row lock; tell whether it changed."""
        with self._store.transaction() as tx:
            found = tx.users.get_by_name(user_name)
            if found is None:
                raise NotFound(f"no user has the userName '{user_name}'")
            return write_password(tx, found.id, password_hash, self._clock())


def write_password(tx: Transaction, user_id: str, password_hash: str | None, now: int) -> bool:
    """Store a user's new password hash (None: no password) under a row lock; tell whether it changed.

    The password is not a SCIM-visible attribute and DataHub's change events
    have no category for credentials, so no event is appended; the version
    moves on as for any write of the user. The console's sessions of the user
    end with the old hash (ADR 0030).

    :raises NotFound: When the user is gone.
    """
    user = tx.users.get(user_id, for_update=True)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    if user.password_hash is None and password_hash is None:
        return False
    tx.users.update(replace(user, password_hash=password_hash, version=user.version + 1, last_modified=now))
    return True
