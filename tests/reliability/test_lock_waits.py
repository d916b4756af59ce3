"""On PostgreSQL no request waits for a lock without end (ADR 0069).

A row locked by an outside session for as long as it likes: the writes that need it are answered
503 with Retry-After once their connection's ``lock_timeout`` runs out (300 ms here, 10 s by
default), rolled back whole, and the core threads they waited in serve again. Before, four such
writes kept all four core threads, and a bulk request waited for as long as the lock was held.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from scimhub.settings import Settings
from scimhub.store.sql import engine as engines
from scimhub.wiring import Services, build
from tests.admins import admin_client

SCIM = "/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
WAIT = 30.0
"""Seconds to wait for an answer: far beyond the bound, so that a wait without end fails the test."""


@pytest.fixture
def hub(fresh_postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setattr(engines, "LOCK_WAIT_MS", 300)  # read as the engine is made
    services = build(Settings(database_url=fresh_postgres))
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def client(hub: Services) -> Iterator[TestClient]:
    with admin_client(hub, "locks") as client:
        yield client


def _rename(client: TestClient, id: str, name: str) -> object:
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": name}]}
    return client.patch(f"{SCIM}/Users/{id}", json=body)


def test_writes_behind_an_outside_lock_answer_503_and_free_the_core_threads(
    hub: Services, client: TestClient
) -> None:
    id = client.post(f"{SCIM}/Users", json={"userName": "locked.row"}).json()["id"]
    bulk = {
        "schemas": [BULK],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk.one"}}],
    }
    # The lock goes before the senders are joined: without a bound they would wait for it, not hang.
    with ThreadPoolExecutor(5) as senders, hub.engine.connect() as outside, outside.begin():
        outside.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": id})
        patches = [
            senders.submit(_rename, client, id, f"name {n}") for n in range(4)
        ]  # as many as core threads
        bulk_answer = senders.submit(client.post, f"{SCIM}/Bulk", json=bulk).result(WAIT)
        refused = [patch.result(WAIT) for patch in patches]
    assert [op["status"] for op in bulk_answer.json()["Operations"]] == ["201"]
    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["schemas"] == [ERROR] and "locked" in answer.json()["detail"]
    assert client.get(f"{SCIM}/Users/{id}").json().get("displayName") is None  # nothing was written
    assert _rename(client, id, "after").status_code == 200  # the lock gone, the same write commits
