"""On SQLite a write runs on the event loop when its turn is free, in a core thread when not (ADR 0055).

The writes of one turn of the loop share one COMMIT, and no answer leaves before it (ADR 0061).

The app is served in-process with a core executor that counts what it is given: a request that
stays on the loop gives it nothing. Another thread's open write transaction takes the turn. Slow
work (a password's hash) and work that writes more than once (a bulk request) must leave the loop
before anything is written: a lookup sent meanwhile must not wait for them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from starlette.testclient import TestClient

import scimhub.directory.users as users_module
from scimhub.settings import Settings
from scimhub.store.sql.tables import users
from scimhub.web.app import create_app
from scimhub.wiring import Services, build
from tests.admins import admin_client, admin_token
from tests.store.turns import TurnHeld

SCIM = "/scim/v2"


class _CountingCore(ThreadPoolExecutor):
    """The core's threads, counting the work handed to them."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.given = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.given += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "loop.db"


@pytest.fixture
def hub(db: Path) -> Iterator[Services]:
    services = build(Settings(database_url=f"sqlite:///{db}"))
    try:
        yield replace(services, core=_CountingCore())
    finally:
        services.close()


@pytest.fixture
def client(hub: Services) -> Iterator[TestClient]:
    with admin_client(hub, "loop") as client:
        client.get(f"{SCIM}/Users", params={"filter": 'userName eq "warm"'})  # the token's first use: a touch
        yield client


def _count(hub: Services, name: str) -> int:
    with hub.engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(users.c.user_name == name)).scalar_one())


def _lookup_seconds(client: TestClient) -> float:
    started = time.monotonic()
    found = client.get(f"{SCIM}/Users", params={"filter": 'userName eq "nobody"'})
    assert found.status_code == 200
    return time.monotonic() - started


def test_a_write_with_its_turn_free_never_leaves_the_loop(hub: Services, client: TestClient) -> None:
    core: Any = hub.core
    given = core.given
    created = client.post(f"{SCIM}/Users", json={"userName": "ada"})
    changed = client.patch(
        created.headers["location"].removeprefix("http://testserver"),
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}],
        },
    )
    found = client.get(f"{SCIM}/Users", params={"filter": 'userName eq "ada"'})
    assert (created.status_code, changed.status_code, found.json()["totalResults"]) == (201, 200, 1)
    assert core.given == given


def test_a_write_whose_turn_is_taken_waits_in_a_core_thread_and_runs_once(
    hub: Services, client: TestClient
) -> None:
    core: Any = hub.core
    given = core.given
    turn = TurnHeld(hub.store).__enter__()
    answers: list[int] = []
    poster = threading.Thread(
        target=lambda: answers.append(client.post(f"{SCIM}/Users", json={"userName": "grace"}).status_code)
    )
    poster.start()
    try:
        deadline = time.monotonic() + 10
        while core.given == given and time.monotonic() < deadline:
            time.sleep(0.01)  # until the request has been handed to the core's thread
        lookup = client.get(f"{SCIM}/Users", params={"filter": 'userName eq "grace"'})
        assert lookup.json()["totalResults"] == 0  # the loop still serves; nothing was written
    finally:
        turn.__exit__()
        poster.join(10)
    assert answers == [201]
    assert core.given == given + 1
    assert _count(hub, "grace") == 1


# What must not run on the loop though it writes: slow work, and work that writes twice. Each test
# holds one request in a slow step and times a plain lookup sent meanwhile. (Found by an
# adversarial review of ADR 0055.)

SLOW = 1.0
"""How long the slow step takes; the lookup beside it must take well under half of it."""
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_a_password_is_not_hashed_on_the_event_loop(
    hub: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2id at the default cost takes ~90 ms of CPU: ``Store.leave_loop`` sends the work to a
    core thread before it hashes. The test stands in a 1 s hash."""
    real = users_module.hash_password
    hashing = threading.Event()

    def slow_hash(password: str) -> str:
        hashing.set()
        time.sleep(SLOW)
        return real(password)

    monkeypatch.setattr(users_module, "hash_password", slow_hash)
    answers: list[int] = []
    poster = threading.Thread(
        target=lambda: answers.append(
            client.post(f"{SCIM}/Users", json={"userName": "ada", "password": "a long password"}).status_code
        )
    )
    poster.start()
    try:
        assert hashing.wait(10)
        waited = _lookup_seconds(client)
    finally:
        poster.join(10)
    assert answers == [201]
    assert _count(hub, "ada") == 1
    assert waited < SLOW / 2, f"a lookup waited {waited:.2f} s for another request's password hash"


def test_a_bulk_s_second_write_does_not_stall_the_loop_on_another_process_s_lock(
    hub: Services, client: TestClient, db: Path
) -> None:
    """A bulk request's later writes could wait for another process holding SQLite's write lock (up
    to the 10 s busy timeout) after its first commit, when it could no longer move: it runs in a core
    thread from the start. The other process here takes the lock for 1 s after the first commit."""
    holder: list[sqlite3.Connection] = []
    taken = threading.Event()

    def after_commit(_: Any) -> None:
        if holder:
            return
        other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process, as SQLite sees it: a connection of its own
        holder.append(other)
        taken.set()

        def release() -> None:
            other.execute("ROLLBACK")
            other.close()

        threading.Timer(SLOW, release).start()

    stop = hub.store.on_commit(after_commit)
    body = {
        "schemas": [BULK],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk-one"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bulk-two"}},
        ],
    }
    answers: list[Any] = []
    poster = threading.Thread(target=lambda: answers.append(client.post(f"{SCIM}/Bulk", json=body)))
    poster.start()
    try:
        assert taken.wait(10)
        waited = _lookup_seconds(client)
    finally:
        poster.join(15)
        stop()
    assert [op["status"] for op in answers[0].json()["Operations"]] == ["201", "201"]
    assert (_count(hub, "bulk-one"), _count(hub, "bulk-two")) == (1, 1)
    assert waited < SLOW / 2, f"a lookup waited {waited:.2f} s while a bulk's write waited on the loop"


def test_a_create_that_falls_back_to_a_core_thread_hashes_its_password_once(
    hub: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On ``WouldWait`` the whole work runs again in a core thread: the hash comes once, there."""
    real = users_module.hash_password
    calls: list[str] = []

    def counting_hash(password: str) -> str:
        calls.append(threading.current_thread().name)
        return real(password)

    monkeypatch.setattr(users_module, "hash_password", counting_hash)
    turn = TurnHeld(hub.store).__enter__()
    threading.Timer(0.3, turn.release.set).start()
    try:
        created = client.post(f"{SCIM}/Users", json={"userName": "grace", "password": "a long password"})
    finally:
        turn.__exit__()
    assert created.status_code == 201
    assert _count(hub, "grace") == 1
    assert len(calls) == 1, f"the password was hashed {len(calls)} times, in threads {calls}"


def test_creates_of_one_turn_share_a_commit_and_answer_after_it(hub: Services) -> None:
    token = admin_token(hub, "shared")
    commits: list[int] = []
    seen_at_answer: list[int] = []
    event.listen(hub.engine, "commit", lambda _connection: commits.append(1))

    async def create(client: httpx.AsyncClient, name: str) -> int:
        answer = await client.post(f"{SCIM}/Users", json={"userName": name})
        seen_at_answer.append(_count(hub, name))  # committed by the time the answer is read
        return answer.status_code

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(hub))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            await client.get(f"{SCIM}/Users", params={"filter": 'userName eq "warm"'})  # the token's touch
            commits.clear()
            return list(await asyncio.gather(*(create(client, f"burst{n}") for n in range(8))))

    assert asyncio.run(burst()) == [201] * 8
    assert seen_at_answer == [1] * 8
    assert len(commits) < 8, commits  # at least two of the eight shared one
