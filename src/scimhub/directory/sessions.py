"""Console sessions (ADR 0030): signing in with a password, and what a session cookie stands for.

The browser holds a random secret; the database holds only its sha256, the
user it belongs to and a digest of that user's password hash at sign-in.
Every request reads the session, the user and its roles afresh, so a session
ends on its next request when the user is suspended or deleted or its password
changes, on every process, as a revoked token does (``directory/tokens.py``).

A session can also hold one message for its browser to read once (a new token,
ADR 0048): sealed with a one-time pad that only the browser keeps, in a cookie, so
neither the database nor the browser alone can read it, and cleared by the read.
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
from scimhub.store.records import Sealed, SessionRecord

SECOND = 1_000_000
IDLE_LIMIT = 30 * 60 * SECOND
"""A session unused for 30 minutes ends (ADR 0030)."""
LIFETIME = 12 * 3600 * SECOND
"""A session ends 12 hours after sign-in, however busy (ADR 0030)."""
TOUCH_RESOLUTION = 60 * SECOND
"""``last_seen`` is written at most once a minute per session: reading a page stays a read."""
SEAL_LIFETIME = 120 * SECOND
"""A sealed message is revealed at most this long after it was sealed (the pad cookie's Max-Age), ADR 0048."""


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
    key: str
    """The sha256 of the session's secret: its row, not a secret (the database holds it)."""


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
        return secret, Session(user, actor, csrf_token(secret), digest(secret))

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
        return Session(user, actor, csrf_token(secret), hash)

    def close(self, secret: str) -> None:
        """End a session (signing out); nothing happens for one that has ended already."""
        with self._store.transaction() as tx:
            tx.sessions.delete(digest(secret))

    def seal(self, session: Session, message: bytes) -> str:
        """Keep ``message`` on the session, XORed with a fresh random pad; return the pad (base64url).

        The pad goes to the browser alone (a cookie); the session's row keeps only
        ``message XOR pad``, which without the pad says nothing of the message but its
        length. A newer seal replaces an older one.
        """
        pad = secrets.token_bytes(len(message))
        sealed = Sealed(base64.b64encode(_xor(message, pad)).decode(), self._clock())
        with self._store.transaction() as tx:
            tx.sessions.seal(session.key, sealed)
        return base64.urlsafe_b64encode(pad).decode().rstrip("=")

    def unseal(self, session: Session, pad: str) -> bytes | None:
        """Return the message the session holds, read with ``pad``, and clear it: once, whoever asks twice.

        None when the session holds nothing, when it was sealed more than ``SEAL_LIFETIME``
        ago, or when ``pad`` is not its pad's length. What it held is cleared in the
        transaction that reads it, whatever the answer.
        """
        try:
            key = base64.urlsafe_b64decode(pad + "=" * (-len(pad) % 4))
        except ValueError:
            return None
        with self._store.transaction() as tx:
            sealed = tx.sessions.unseal(session.key)
        if sealed is None or self._clock() - sealed.at > SEAL_LIFETIME:
            return None
        blob = base64.b64decode(sealed.blob)
        return _xor(blob, key) if len(blob) == len(key) else None


def _xor(data: bytes, pad: bytes) -> bytes:
    """Return ``data`` XOR ``pad``, byte by byte (both of one length): it seals, and it unseals."""
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(data), "big")
