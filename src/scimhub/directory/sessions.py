"""Console sessions (ADR 0030): signing in with a password, and what a session cookie stands for.

The browser holds a random secret; the database holds only its sha256, the
user it belongs to and a digest of that user's password hash at sign-in.
Every request reads the session, the user and its roles afresh, so a session
ends on its next request when the user is suspended or deleted or its password
changes, on every process, as a revoked token does (``directory/tokens.py``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from scimhub.directory.accounts import Accounts
from scimhub.directory.actors import Actor
from scimhub.directory.users import Clock
from scimhub.domain.roles import privileges_of
from scimhub.domain.users import User
from scimhub.store.contract import Store
from scimhub.store.records import SessionRecord

SECOND = 1_000_000
IDLE_LIMIT = 30 * 60 * SECOND
"""A session unused for 30 minutes ends (ADR 0030)."""
LIFETIME = 12 * 3600 * SECOND
"""A session ends 12 hours after sign-in, however busy (ADR 0030)."""
TOUCH_RESOLUTION = 60 * SECOND
"""``last_seen`` is written at most once a minute per session: reading a page stays a read."""


def digest(secret: str) -> str:
    """Return the sha256 of a secret, hex: what the database keeps instead of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def password_mark(password_hash: str | None) -> str:
    """Return a digest of a password hash: equal while the password stays, different once it changes."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()


def csrf_token(secret: str) -> str:
    """Return the CSRF token of a session: derived from its secret, which only the session's browser knows."""
    mac = hashlib.sha256(b"scimhub console csrf\0" + secret.encode()).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclass(frozen=True)
class Session:
    """A signed-in console user, as read on this request."""

    user: User
    actor: Actor
    """The user with the privileges of its effective roles, read now."""
    csrf: str


class Sessions:
    """Open, resolve and close console sessions."""

    def __init__(self, store: Store, clock: Clock, accounts: Accounts) -> None:
        self._store = store
        self._clock = clock
        self._accounts = accounts

    def open(self, user_name: str, password: str) -> tuple[str, Session]:
        """Sign in with a password; return the new session's secret (for the cookie alone) and the session.

        The password hash is read before the password is checked: should it change
        in between, the session is bound to the old one and ends on its first use.

        :raises Unauthorized: When the name or password is wrong, the user has no
            password or is suspended (``Accounts.sign_in``).
        """
        with self._store.read() as tx:
            found = tx.users.get_by_name(user_name)
        mark = password_mark(found.password_hash if found else None)
        actor = self._accounts.sign_in(user_name, password)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        with self._store.transaction() as tx:
            # Ending the stale sessions of everybody here keeps the table small without a timer.
            tx.sessions.delete_stale(now - LIFETIME, now - IDLE_LIMIT)
            tx.sessions.insert(SessionRecord(digest(secret), actor.user_id, mark, now, now))
            user = tx.users.get(actor.user_id)
        if user is None:  # deleted between the check and the insert: the cascade took the session
            return self.open(user_name, password)
        return secret, Session(user, actor, csrf_token(secret))

    def resolve(self, secret: str) -> Session | None:
        """Return the session a cookie's secret stands for, or None when it has ended.

        It has ended when it was closed, has been idle for ``IDLE_LIMIT`` or lived
        for ``LIFETIME``, or its user is deleted, suspended or has another password.
        """
        hash, now = digest(secret), self._clock()
        with self._store.read() as tx:
            record = tx.sessions.find(hash)
            user = tx.users.get(record.user_id) if record else None
            grants = tx.roles.grants([user.id])[user.id] if user else []
        if record is None or user is None:
            return None
        alive = now - record.created < LIFETIME and now - record.last_seen < IDLE_LIMIT
        if not (alive and user.active and record.password_mark == password_mark(user.password_hash)):
            self.close(secret)
            return None
        if now - record.last_seen >= TOUCH_RESOLUTION:
            with self._store.transaction() as tx:
                tx.sessions.touch(hash, now)
        actor = Actor(user.id, user.urn, None, privileges_of(g.role for g in grants))
        return Session(user, actor, csrf_token(secret))

    def close(self, secret: str) -> None:
        """End a session (signing out); nothing happens for one that has ended already."""
        with self._store.transaction() as tx:
            tx.sessions.delete(digest(secret))
