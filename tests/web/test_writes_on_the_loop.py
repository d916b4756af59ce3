"""On SQLite a write runs on the event loop when its turn is free, in a core thread when not (ADR 0055).

The app is served in-process with a core executor that counts what it is given: a request that
stays on the loop gives it nothing. Another thread's open write transaction takes the turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserRef
from scimhub.settings import Settings
from scimhub.store.sql.tables import users
from scimhub.web.app import create_app
from scimhub.wiring import Services, build

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
def hub(tmp_path: Path) -> Iterator[Services]:
    services = build(Settings(database_url=f"sqlite:///{tmp_path}/loop.db"))
    try:
        yield replace(services, core=_CountingCore())
    finally:
        services.close()


@pytest.fixture
def client(hub: Services) -> Iterator[TestClient]:
    hub.accounts.ensure_admin("an admin password for the tests")
    token = hub.tokens.issue(SYSTEM, UserRef.by_name("admin"), "loop")[0].token
    with TestClient(create_app(hub), headers={"Authorization": f"Bearer {token}"}) as client:
        client.get(f"{SCIM}/Users", params={"filter": 'userName eq "warm"'})  # the token's first use: a touch
        yield client


def _count(hub: Services, name: str) -> int:
    with hub.engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(users.c.user_name == name)).scalar_one())


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
    inside, release = threading.Event(), threading.Event()

    def hold_the_turn() -> None:
        with hub.store.transaction():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_turn)
    holder.start()
    assert inside.wait(10)
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
        release.set()
        holder.join(10)
        poster.join(10)
    assert answers == [201]
    assert core.given == given + 1
    assert _count(hub, "grace") == 1
