"""On PostgreSQL a request runs on the event loop, a write until it would wait for a lock (ADR 0056, 0058,
0066: in a greenlet holding one of the loop's work slots).

The app is served in-process with a core executor that counts what it is given (a request that
stays on the loop gives it nothing), and a store that counts the work run ``unwaiting`` (on the
loop). A write that meets a lock held elsewhere gives up within a few milliseconds, rolled back
whole, and runs again in a core thread. While the database is away, requests go to the core's
threads too: a new connection may take up to its connect timeout, and that wait must not hold
the loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from scimhub.directory.actors import SYSTEM
from scimhub.settings import Settings
from scimhub.store.sql.slots import WORK_IN_FLIGHT
from scimhub.store.sql.tables import users
from scimhub.wiring import Services, build
from tests.databases import wait_for_a_lock_waiter
from tests.web.test_writes_on_the_loop import SCIM, _CountingCore
from tests.web.test_writes_on_the_loop import client as client  # the same fixture, on this module's hub

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_ROUNDS = 20


@pytest.fixture
def hub(fresh_postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    services = build(Settings(database_url=fresh_postgres))
    store: Any = services.store
    unwaiting = store.unwaiting
    store.on_loop = 0

    def counted() -> AbstractContextManager[None]:
        store.on_loop += 1
        return unwaiting()

    monkeypatch.setattr(store, "unwaiting", counted)
    try:
        yield replace(services, core=_CountingCore())
    finally:
        services.close()


def _hops_and_loop_runs(hub: Services) -> tuple[int, int]:
    core: Any = hub.core
    store: Any = hub.store
    return core.given, store.on_loop


def test_reads_and_writes_stay_on_the_loop(hub: Services, client: TestClient) -> None:
    """Each request runs on the loop and is given to no core thread.

    A write's commit can rightly move to a core thread when another database's commit holds the
    cluster's NOTIFY lock past ``LOOP_LOCK_WAIT_MS`` (tests/store/test_sql_unwaiting.py,
    ``_on_the_loop``): the round is then sent again, for a user of its own.
    """
    for attempt in range(_ROUNDS):
        name = f"ada{attempt}"
        before = _hops_and_loop_runs(hub)
        created = client.post(f"{SCIM}/Users", json={"userName": name})
        location = created.headers["location"].removeprefix("http://testserver")
        changed = client.patch(
            location,
            json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Dr"}]},
        )
        found = client.get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'})
        read = client.get(location)
        assert (created.status_code, changed.status_code) == (201, 200)
        assert found.json()["Resources"][0]["title"] == "Dr" and read.json()["title"] == "Dr"
        hops, loop_runs = _hops_and_loop_runs(hub)
        assert loop_runs == before[1] + 4
        if hops == before[0]:
            break
    else:
        pytest.fail(f"a request was given to a core thread in each of {_ROUNDS} rounds")
    with hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).where(users.c.user_name == name)).scalar_one() == 1


def test_a_write_meeting_a_row_held_elsewhere_runs_again_in_a_core_thread_once(
    hub: Services, client: TestClient
) -> None:
    """The row is held by another process's transaction: the loop gives up on it and serves others."""
    created = client.post(f"{SCIM}/Users", json={"userName": "grace"})
    location = created.headers["location"].removeprefix("http://testserver")
    hops, _ = _hops_and_loop_runs(hub)
    answers: list[int] = []
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "RAdm"}]}
    patcher = threading.Thread(target=lambda: answers.append(client.patch(location, json=patch).status_code))
    with hub.engine.connect() as other:
        other.execute(select(users.c.id).where(users.c.user_name == "grace").with_for_update())
        patcher.start()
        deadline = time.monotonic() + 10
        while _hops_and_loop_runs(hub)[0] == hops and time.monotonic() < deadline:
            time.sleep(0.01)  # until the request has been handed to a core thread
        assert client.get(location).json().get("title") is None  # the loop serves; nothing was written
        other.rollback()
    patcher.join(10)
    assert answers == [200]
    assert _hops_and_loop_runs(hub)[0] == hops + 1
    found = client.get(location)
    assert found.json()["title"] == "RAdm" and found.json()["meta"]["version"] == 'W/"2"'  # changed once


def test_while_the_database_is_away_requests_go_to_a_core_thread(hub: Services, client: TestClient) -> None:
    """The outage tracker (ADR 0029) says the database is away: until a commit is heard, nothing runs
    on the loop. Here the database is back at once, so the first read in a core thread ends the outage."""
    outage: Any = hub.engine.pool.outage
    outage.refuse("a stand-in for a refused connection", ConnectionRefusedError())
    assert not hub.work_on_loop
    hops, loop_runs = _hops_and_loop_runs(hub)
    assert client.get(f"{SCIM}/Users", params={"filter": 'userName eq "ada"'}).status_code == 200
    assert _hops_and_loop_runs(hub) == (hops + 1, loop_runs)
    assert hub.work_on_loop  # that read committed: the database answers again
    assert client.get(f"{SCIM}/Users", params={"filter": 'userName eq "ada"'}).status_code == 200
    assert _hops_and_loop_runs(hub) == (hops + 1, loop_runs + 1)


def test_while_the_database_is_away_a_write_is_checked_at_its_commit(
    hub: Services, client: TestClient
) -> None:
    """Away, a write goes to a core thread from the start, and its credential is checked there as it
    is when it leaves the loop (ADR 0084, 0086): revoked while the write waited for its row, it is a
    401 and nothing is written (found by an adversarial run, where it answered 200 and wrote)."""
    created = client.post(f"{SCIM}/Users", json={"userName": "grace"})
    location = created.headers["location"].removeprefix("http://testserver")
    token_id = next(view.record.id for view in hub.tokens.list(SYSTEM) if view.record.name == "loop")
    outage: Any = hub.engine.pool.outage
    answers: list[int] = []
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "RAdm"}]}
    patcher = threading.Thread(target=lambda: answers.append(client.patch(location, json=patch).status_code))
    with hub.engine.connect() as other:
        other.execute(select(users.c.id).where(users.c.user_name == "grace").with_for_update())
        outage.refuse("a stand-in for a refused connection", ConnectionRefusedError())
        assert not hub.work_on_loop
        patcher.start()
        wait_for_a_lock_waiter(hub.engine)
        hub.tokens.revoke(SYSTEM, token_id)
        other.rollback()
    patcher.join(10)
    assert answers == [401]
    with hub.store.read() as tx:
        stored = tx.users.get_by_name("grace")
        assert stored is not None and "title" not in stored.doc


def test_writes_waiting_for_a_row_leave_the_loop_to_everyone_else(hub: Services, client: TestClient) -> None:
    """More writes wait for a row held elsewhere than the loop has work slots (ADR 0066): each gives
    its slot up and waits in a core thread, and the loop goes on answering (an adversarial run found
    the process answering nothing else while four writes held the four slots, waiting)."""
    created = client.post(f"{SCIM}/Users", json={"userName": "hopper"})
    location = created.headers["location"].removeprefix("http://testserver")
    answers: list[int] = []
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "RAdm"}]}
    patchers = [
        threading.Thread(target=lambda: answers.append(client.patch(location, json=patch).status_code))
        for _ in range(WORK_IN_FLIGHT + 2)
    ]
    with hub.engine.connect() as other:
        other.execute(select(users.c.id).where(users.c.user_name == "hopper").with_for_update())
        for patcher in patchers:
            patcher.start()
        time.sleep(0.5)  # every write has met the lock by now
        looked: list[int] = []
        lookup = threading.Thread(
            target=lambda: looked.extend(
                client.get(f"{SCIM}/Users", params={"filter": 'userName eq "hopper"'}).status_code
                for _ in range(3)
            )
        )
        lookup.start()
        lookup.join(3)  # answered at once, or never while the row is held
        assert looked == [200, 200, 200]
        assert answers == []
        other.rollback()
    for patcher in patchers:
        patcher.join(10)
    assert answers == [200] * (WORK_IN_FLIGHT + 2)
