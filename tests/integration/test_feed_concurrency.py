"""Many writer processes, one consumer following offsets on the live server: nothing skipped, nothing twice.

PostgreSQL only: there, concurrent transactions really commit in an order other
than the one they took their sequence numbers in (the outbox trap ADR 0011
closes). Each writer process provisions users through the directory, as the
server would, some of its writes failing on purpose; the consumer polls the live
server over HTTP while they run, with small pages. Afterwards the events it got
must be exactly those of the writes that committed: each once, each write's
events together and in order, and a write that finished before another began
delivered before it.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.domain.users import User
from scimhub.errors import Uniqueness
from scimhub.settings import Settings
from scimhub.wiring import build
from tests.integration.conftest import running_server, scimhub
from tests.web.test_feed_poll import POLL, decoded

WRITERS = 4
WRITES_PER_WRITER = 60

Event = tuple[str, str, str]
"""(entityUrn, category, operation)."""


@dataclass(frozen=True)
class Write:
    """One committed write of a writer process and the events it must publish, in order."""

    events: tuple[Event, ...]
    began: float
    """``time.monotonic()`` before the call: the clock is the machine's, shared by every process."""
    ended: float
    """``time.monotonic()`` after the call returned, that is after the commit."""


def write_users(database_url: str, writer: int) -> list[Write]:
    """Create users, rename them and fail on purpose; return the writes that committed."""
    hub = build(Settings(database_url=database_url), upgrade=False)
    done: list[Write] = []
    try:
        for i in range(WRITES_PER_WRITER):
            name = f"w{writer}-{i}"
            urn = f"urn:li:corpuser:{name}"
            began = time.monotonic()
            user = hub.users.create(SYSTEM, UserEdit({"userName": name, "roles": [{"value": "Reader"}]}))
            done.append(
                Write(
                    ((urn, "LIFECYCLE", "CREATE"), (urn, "ROLE_MEMBERSHIP", "ADD")), began, time.monotonic()
                )
            )
            began = time.monotonic()
            hub.users.update(SYSTEM, user.id, _renamed(f"Writer {i}"))
            done.append(Write(((urn, "ATTRIBUTE", "MODIFY"),), began, time.monotonic()))
            if i % 10 == 0:
                try:  # a write that fails after the events were appended: it must publish nothing
                    hub.users.create(SYSTEM, UserEdit({"userName": name.upper()}))
                except Uniqueness:
                    pass
    finally:
        hub.close()
    return done


def _renamed(display_name: str) -> Callable[[User], UserEdit]:
    return lambda user: UserEdit({**user.doc, "displayName": display_name})


def follow(url: str, token: str, offset: str, stop: threading.Event, received: list[Event]) -> None:
    """Follow the feed from ``offset`` in small pages until ``stop`` is set and a poll comes back empty."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while True:
            response = client.get(POLL, params={"offsetId": offset, "limit": 7, "pollTimeoutSeconds": 1})
            assert response.status_code == 200, response.text
            body = response.json()
            received += [(e["entityUrn"], e["category"], e["operation"]) for e in decoded(body)]
            offset = body["offsetId"]
            if body["count"] == 0 and stop.is_set():
                return


def test_a_consumer_sees_every_committed_event_once_in_commit_order(
    fresh_postgres: str, tmp_path: Path
) -> None:
    """With four processes writing at once, the polled events are exactly the committed ones, in order."""
    token = scimhub("token", "create", "--name", "follower", database_url=fresh_postgres).stdout.splitlines()[
        -1
    ]
    with running_server(fresh_postgres, tmp_path / "serve.log") as (process, url):
        start = httpx.get(url + POLL, headers={"Authorization": f"Bearer {token}"}).json()["offsetId"]
        received: list[Event] = []
        stop = threading.Event()
        follower = threading.Thread(target=follow, args=(url, token, start, stop, received))
        follower.start()
        with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
            writes = [
                w
                for ws in pool.starmap(write_users, [(fresh_postgres, n) for n in range(WRITERS)])
                for w in ws
            ]
        stop.set()
        follower.join(timeout=120)
    assert not follower.is_alive()
    _assert_exactly_once_in_commit_order(writes, received)


def _assert_exactly_once_in_commit_order(writes: list[Write], received: list[Event]) -> None:
    expected = [event for write in writes for event in write.events]
    assert len(received) == len(set(received)), "an event was delivered twice"
    assert sorted(received) == sorted(expected), "the delivered events are not the committed ones"
    position = {event: at for at, event in enumerate(received)}
    latest_begin_so_far = float("-inf")
    for write in sorted(writes, key=lambda w: position[w.events[0]]):
        first = position[write.events[0]]
        # A transaction's events arrive together and in the order it appended them.
        assert [position[e] for e in write.events] == list(range(first, first + len(write.events)))
        # A write that ended before another began was committed first, so it must come first.
        assert latest_begin_so_far <= write.ended, f"{write.events[0]} came after a write that began later"
        latest_begin_so_far = max(latest_begin_so_far, write.began)
