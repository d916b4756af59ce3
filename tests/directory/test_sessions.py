"""Console sessions (ADR 0030): opened with a password, kept as a hash, ended by what should end them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.sessions import (
    IDLE_LIMIT,
    LIFETIME,
    SEAL_LIFETIME,
    TOUCH_RESOLUTION,
    Sessions,
    digest,
)
from scimhub.directory.users import UserEdit
from scimhub.domain.roles import Privilege, Role
from scimhub.errors import Unauthorized
from scimhub.store.sql.tables import console_sessions
from scimhub.wiring import Services
from tests.directory.conftest import Clock, add_group, add_user

PASSWORD = "correct horse battery staple"


@pytest.fixture
def sessions(hub: Services, clock: Clock) -> Sessions:
    return Sessions(hub.store, clock, hub.accounts)


def test_a_session_stands_for_its_user_with_the_privileges_of_its_effective_roles(
    hub: Services, sessions: Sessions
) -> None:
    """Resolving the secret gives the user, its privileges (a group's role included) and a CSRF token."""
    user = add_user(hub, "ada", PASSWORD, roles=[{"value": "Reader"}])
    group = add_group(hub, "admins", user)
    hub.roles.assign(SYSTEM, Role.ADMIN, "group", group.id)
    secret, opened = sessions.open("ADA", PASSWORD)
    session = sessions.resolve(secret)
    assert session is not None and session.user.id == user.id == opened.user.id
    assert Privilege.MANAGE_USERS_AND_GROUPS in session.actor.privileges
    assert session.csrf == opened.csrf and session.csrf not in (secret, digest(secret))


def test_only_the_hash_of_the_secret_is_stored(hub: Services, sessions: Sessions) -> None:
    """The database holds sha256(secret), never the secret the cookie carries."""
    add_user(hub, "bea", PASSWORD)
    secret, _ = sessions.open("bea", PASSWORD)
    with hub.engine.connect() as connection:
        rows = connection.execute(select(console_sessions)).all()
    assert [row.hash for row in rows] == [digest(secret)]
    assert secret not in repr(rows)


def test_a_wrong_password_opens_no_session(hub: Services, sessions: Sessions) -> None:
    """Sign-in refuses a wrong password and a suspended user, and stores nothing."""
    add_user(hub, "cy", PASSWORD)
    add_user(hub, "dee", PASSWORD, active=False)
    for name, password in (("cy", "wrong password"), ("dee", PASSWORD), ("nobody", PASSWORD)):
        with pytest.raises(Unauthorized):
            sessions.open(name, password)
    with hub.engine.connect() as connection:
        assert connection.execute(select(console_sessions)).all() == []


def test_a_session_ends_when_its_user_is_suspended(hub: Services, sessions: Sessions) -> None:
    """Suspending the user (as SCIM does, active false) ends its session on the next request, for good."""
    user = add_user(hub, "eve", PASSWORD)
    secret, _ = sessions.open("eve", PASSWORD)
    hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "active": False}))
    assert sessions.resolve(secret) is None
    hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "active": True}))
    assert sessions.resolve(secret) is None  # reactivating does not bring it back


def test_a_session_ends_when_its_user_is_deleted(hub: Services, sessions: Sessions) -> None:
    """Deleting the user ends its sessions (and the rows go with it)."""
    user = add_user(hub, "fay", PASSWORD)
    secret, _ = sessions.open("fay", PASSWORD)
    hub.users.delete(SYSTEM, user.id)
    assert sessions.resolve(secret) is None


def test_a_session_ends_when_the_password_changes(hub: Services, sessions: Sessions) -> None:
    """A new password (or none) ends every session opened with the old one."""
    add_user(hub, "gus", PASSWORD)
    first, _ = sessions.open("gus", PASSWORD)
    hub.accounts.set_password(SYSTEM, "gus", "a brand new password")
    assert sessions.resolve(first) is None
    second, _ = sessions.open("gus", "a brand new password")
    hub.accounts.disable_password(SYSTEM, "gus")
    assert sessions.resolve(second) is None


def test_signing_out_ends_the_session_everywhere(hub: Services, sessions: Sessions) -> None:
    """Closing a session deletes it: the same secret is refused afterwards, by any process."""
    add_user(hub, "hal", PASSWORD)
    secret, _ = sessions.open("hal", PASSWORD)
    other, _ = sessions.open("hal", PASSWORD)
    sessions.close(secret)
    assert sessions.resolve(secret) is None
    assert sessions.resolve(other) is not None  # another browser's session stays


def test_an_idle_session_ends_and_a_used_one_lives_until_its_lifetime(
    hub: Services, sessions: Sessions, clock: Clock
) -> None:
    """Idle for IDLE_LIMIT ends a session; use keeps it alive, but never past LIFETIME."""
    add_user(hub, "ivy", PASSWORD)
    idle, _ = sessions.open("ivy", PASSWORD)
    busy, _ = sessions.open("ivy", PASSWORD)
    opened = clock.now
    while clock.now - opened < LIFETIME - IDLE_LIMIT:
        clock.now += IDLE_LIMIT - TOUCH_RESOLUTION
        assert sessions.resolve(busy) is not None
    assert sessions.resolve(idle) is None
    clock.now = opened + LIFETIME
    assert sessions.resolve(busy) is None


def test_an_unknown_secret_is_no_session(sessions: Sessions) -> None:
    """A secret that was never issued resolves to nothing."""
    assert sessions.resolve("not-a-session") is None


def test_a_sealed_message_is_unsealed_once_with_its_pad(hub: Services, sessions: Sessions) -> None:
    """The row holds message XOR pad; the pad reads it once; a second read or a wrong pad gets nothing."""
    add_user(hub, "una", PASSWORD)
    _, session = sessions.open("una", PASSWORD)
    message = b'{"name":"entra","token":"a secret"}'
    pad = sessions.seal(session, message)
    with hub.engine.connect() as connection:
        [sealed] = connection.execute(select(console_sessions.c.sealed)).scalars()
    assert b"a secret" not in sealed.encode() and len(pad) >= len(message)
    assert sessions.unseal(session, pad) == message
    assert sessions.unseal(session, pad) is None
    sessions.seal(session, message)
    assert sessions.unseal(session, sessions.seal(session, b"x" * len(message))) == b"x" * len(message)
    sessions.seal(session, message)
    assert sessions.unseal(session, pad) != message  # an older pad does not open the newer seal
    assert sessions.unseal(session, "not base64!") is None


def test_a_sealed_message_dies_after_its_lifetime(hub: Services, sessions: Sessions, clock: Clock) -> None:
    """SEAL_LIFETIME after sealing the pad opens nothing; just before it, it does."""
    add_user(hub, "vic", PASSWORD)
    _, session = sessions.open("vic", PASSWORD)
    pad = sessions.seal(session, b"message")
    clock.now += SEAL_LIFETIME
    assert sessions.unseal(session, pad) == b"message"
    pad = sessions.seal(session, b"message")
    clock.now += SEAL_LIFETIME + 1
    assert sessions.unseal(session, pad) is None


def test_two_tabs_unsealing_at_once_get_it_once(hub: Services, sessions: Sessions) -> None:
    """Concurrent unseals of one session (two tabs loading the page): exactly one gets the message."""
    add_user(hub, "wes", PASSWORD)
    _, session = sessions.open("wes", PASSWORD)
    for _ in range(5):
        pad = sessions.seal(session, b"the token")
        start = threading.Barrier(4)

        def unseal(_: int, pad: str = pad, start: threading.Barrier = start) -> bytes | None:
            start.wait()
            return sessions.unseal(session, pad)

        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(unseal, range(4)))
        assert sorted(got, key=bool) == [None, None, None, b"the token"]
