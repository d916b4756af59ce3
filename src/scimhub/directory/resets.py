"""One-time password-reset links (ADR 0033).

Entra never sends a password, so an administrator gives a provisioned user a
link to choose one (DataHub's guide: "DataHub Admin need to reset their
password"). The link's secret is shown to the administrator once; the database
keeps only its sha256. A link works once, for ``RESET_LIFETIME``, and a new
link for the same user replaces the old one.
"""

from __future__ import annotations

import secrets

from scimhub.directory.accounts import write_password
from scimhub.directory.actors import Actor
from scimhub.directory.passwords import check_new_password, hash_password
from scimhub.directory.sessions import SECOND, digest
from scimhub.directory.users import Clock
from scimhub.domain.roles import Privilege
from scimhub.domain.users import User
from scimhub.errors import InvalidValue, NotFound
from scimhub.store.contract import Store
from scimhub.store.records import ResetRecord

RESET_LIFETIME = 24 * 3600 * SECOND
"""A link works for 24 hours after it was issued (ADR 0033)."""
_SPENT = "this password-reset link was used already or has expired; ask an administrator for a new one"


class PasswordResets:
    """Issue and redeem one-time password-reset links."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def issue(self, actor: Actor, user_id: str) -> tuple[str, int]:
        """Make a new link for a user, replacing any earlier one; return its secret and expiry.

        :raises Forbidden: Without MANAGE_USER_CREDENTIALS (as setting a password needs).
        :raises NotFound: When there is no such user.
        """
        actor.require(Privilege.MANAGE_USER_CREDENTIALS, "Issuing a password-reset link")
        secret, now = secrets.token_urlsafe(32), self._clock()
        expires = now + RESET_LIFETIME
        with self._store.transaction() as tx:
            if user_id not in tx.users.urns([user_id], refer=True):
                raise NotFound(f"User {user_id} not found")
            tx.resets.delete_for(user_id)
            tx.resets.insert(ResetRecord(digest(secret), user_id, actor.urn, now, expires))
        return secret, expires

    def find(self, secret: str) -> User | None:
        """Return the user a link that still works is for, or None."""
        with self._store.read() as tx:
            record = tx.resets.find(digest(secret))
            user = tx.users.get(record.user_id) if record and record.expires > self._clock() else None
        return user

    def redeem(self, secret: str, password: str) -> User:
        """Set the password the link's user chose, and spend the link, in one transaction.

        :raises InvalidValue: When the password is too short (the link stays), or
            the link was used already, replaced or has expired.
        """
        check_new_password(password)
        self._store.leave_loop()  # argon2id off the event loop (ADR 0055)
        password_hash = hash_password(password)  # argon2 before the write lock, not under it
        with self._store.transaction() as tx:
            record = tx.resets.take(digest(secret))
            if record is None or record.expires <= self._clock():
                raise InvalidValue(_SPENT)
            write_password(tx, record.user_id, password_hash, self._clock())
            user = tx.users.get(record.user_id)
        if user is None:
            raise InvalidValue(_SPENT)
        return user
