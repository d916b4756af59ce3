"""Cursor paging (RFC 9865, ADR 0035) on the live server, on SQLite and on PostgreSQL.

The walk runs while another client inserts and deletes users matching the same
filter: every user present throughout must come exactly once, and no user twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration.conftest import LiveServer, own_server, running_server, scimhub
from tests.integration.test_scim_http import ERROR, unique

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Yield a server of this module's own: the walks' hundreds of users would crowd the shared lists."""
    yield from own_server(request, tmp_path_factory)


def page(client: httpx.Client, cursor: str, **params: Any) -> dict[str, Any]:
    response = client.get("/Users", params={"cursor": cursor, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "startIndex" not in body and body["itemsPerPage"] == len(body["Resources"])
    return body


def walk(clients: list[httpx.Client], pause: float = 0.0, **params: Any) -> list[str]:
    """Return the userNames of every page from the first to the last, asking each of ``clients`` in turn."""
    names: list[str] = []
    cursor, turn = "", 0
    while True:
        body = page(clients[turn % len(clients)], cursor, **params)
        names += [r["userName"] for r in body["Resources"]]
        if "nextCursor" not in body:
            return names
        cursor, turn = body["nextCursor"], turn + 1
        time.sleep(pause)


class Churn(threading.Thread):
    """Insert users and delete the doomed ones under ``prefix`` until stopped."""

    def __init__(self, client: httpx.Client, prefix: str, doomed: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.prefix, self.doomed = client, prefix, doomed
        self.stop, self.writes, self.failure = threading.Event(), 0, ""

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            for name in (f"{self.prefix}-a{n:04d}", f"{self.prefix}-m{n:04d}", f"{self.prefix}-z{n:04d}"):
                created = self.client.post("/Users", json={"userName": name, "displayName": f"new {n}"})
                if created.status_code != 201:
                    self.failure = created.text
                    return
                self.writes += 1
            if self.doomed:
                deleted = self.client.delete(f"/Users/{self.doomed.pop()}")
                if deleted.status_code != 204:
                    self.failure = deleted.text
                    return
                self.writes += 1


@pytest.mark.parametrize(
    "order",
    [{}, {"sortBy": "userName"}, {"sortBy": "displayName", "sortOrder": "descending"}, {"sortBy": "title"}],
)
def test_a_walk_while_others_insert_and_delete_skips_and_repeats_nothing(
    live: LiveServer, order: dict[str, str]
) -> None:
    """Users there throughout come exactly once; none twice; the writer really wrote during the walk."""
    prefix = unique("walk")
    with live.client() as setup:
        stable: set[str] = set()
        doomed: list[str] = []
        for n in range(90):
            name = f"{prefix}-{'s' if n % 3 else 'd'}{n:03d}"
            body: dict[str, Any] = {"userName": name}
            if n % 2:
                body |= {"displayName": f"Person {n % 7}", "title": f"t{n % 5}"}  # ties and NULLs
            created = setup.post("/Users", json=body)
            assert created.status_code == 201, created.text
            (stable.add(name) if n % 3 else doomed.append(created.json()["id"]))
    with live.client() as walker, live.client() as writer:
        churn = Churn(writer, prefix, doomed)
        churn.start()
        try:
            time.sleep(0.2)
            before = churn.writes
            names = walk([walker], pause=0.02, filter=f'userName sw "{prefix}"', count=7, **order)
            during = churn.writes - before
        finally:
            churn.stop.set()
            churn.join()
    assert not churn.failure
    assert during >= 10, "the writer must have written while the walk ran"
    assert len(names) == len(set(names)), "a user came twice"
    assert stable <= set(names), f"skipped: {sorted(stable - set(names))}"


def test_pages_link_both_ways_and_count_on_the_first(scim: httpx.Client) -> None:
    """previousCursor leads back through the same pages; totalResults only on the first page."""
    prefix = unique("links")
    for n in range(10):
        assert scim.post("/Users", json={"userName": f"{prefix}-{n}"}).status_code == 201
    query = {"filter": f'userName sw "{prefix}"', "sortBy": "userName", "count": 4}
    first = page(scim, "", **query)
    assert first["totalResults"] == 10 and "previousCursor" not in first
    second = page(scim, first["nextCursor"], **query)
    third = page(scim, second["nextCursor"], **query)
    assert "totalResults" not in second and "nextCursor" not in third
    assert [r["userName"] for r in first["Resources"] + second["Resources"] + third["Resources"]] == [
        f"{prefix}-{n}" for n in range(10)
    ]
    back = page(scim, third["previousCursor"], **query)
    assert back["Resources"] == second["Resources"]
    assert page(scim, back["previousCursor"], **query)["Resources"] == first["Resources"]


def test_a_search_body_pages_by_cursor_too(scim: httpx.Client) -> None:
    """RFC 9865 §3: ``cursor`` and ``count`` in a POST /.search body."""
    prefix = unique("posted")
    for n in range(3):
        assert scim.post("/Users", json={"userName": f"{prefix}-{n}"}).status_code == 201
    body = {"schemas": [SEARCH_REQUEST], "filter": f'userName sw "{prefix}"', "cursor": "", "count": 2}
    first = scim.post("/Users/.search", json=body).json()
    rest = scim.post("/Users/.search", json={**body, "cursor": first["nextCursor"]}).json()
    assert len(first["Resources"]) == 2 and len(rest["Resources"]) == 1 and "nextCursor" not in rest


def _error(response: httpx.Response, scim_type: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["schemas"] == [ERROR] and body["scimType"] == scim_type
    detail: str = body["detail"]
    return detail


def test_an_altered_or_foreign_cursor_is_invalid(scim: httpx.Client) -> None:
    """One character changed, or the cursor of another query: 400 invalidCursor, never a page."""
    for n in range(2):  # a next page to have a cursor for, whatever ran before on this server
        assert scim.post("/Users", json={"userName": unique(f"altered-{n}")}).status_code == 201
    cursor = page(scim, "", count=1)["nextCursor"]
    altered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    detail = _error(scim.get("/Users", params={"cursor": altered, "count": 1}), "invalidCursor")
    assert "empty cursor for the first page" in detail
    _error(scim.get("/Users", params={"cursor": cursor, "count": 1, "sortBy": "userName"}), "invalidCursor")
    _error(scim.get("/Groups", params={"cursor": cursor, "count": 1}), "invalidCursor")
    _error(scim.get("/Users", params={"cursor": "not-a-cursor"}), "invalidCursor")


def test_paging_parameters_that_cannot_work_are_refused(scim: httpx.Client) -> None:
    _error(scim.get("/Users", params={"cursor": "", "count": 0}), "invalidCount")
    assert "startIndex or cursor" in _error(
        scim.get("/Users", params={"cursor": "", "startIndex": 2}), "invalidValue"
    )
    root = scim.post("/.search", json={"schemas": [SEARCH_REQUEST], "cursor": ""})
    assert "per resource type" in _error(root, "invalidValue")


def test_the_service_provider_config_advertises_pagination(scim: httpx.Client) -> None:
    assert scim.get("/ServiceProviderConfig").json()["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 600,
    }


@pytest.fixture
def brief(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Yield a server whose cursors live one second (SCIMHUB_CURSOR_TIMEOUT_SECONDS=1)."""
    token = scimhub("token", "create", "--name", "tests", database_url=database_url).stdout.splitlines()[-1]
    env = {"SCIMHUB_CURSOR_TIMEOUT_SECONDS": "1"}
    with running_server(database_url, tmp_path / "serve.log", env) as (_, url):
        yield LiveServer(url, database_url, token, tmp_path / "serve.log")


def test_an_expired_cursor_is_refused_as_expired(brief: LiveServer) -> None:
    with brief.client() as client:
        assert client.get("/ServiceProviderConfig").json()["pagination"]["cursorTimeout"] == 1
        assert client.post("/Users", json={"userName": unique("x")}).status_code == 201
        cursor = page(client, "", count=1)["nextCursor"]
        time.sleep(2.1)
        detail = _error(client.get("/Users", params={"cursor": cursor, "count": 1}), "expiredCursor")
        assert "valid for 1 seconds (cursorTimeout)" in detail


def test_a_cursor_from_one_process_serves_on_another(database_url: str, tmp_path: Path) -> None:
    """Two servers on one database: a walk asking each in turn lists what either alone lists."""
    token = scimhub("token", "create", "--name", "tests", database_url=database_url).stdout.splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_server(database_url, tmp_path / "a.log") as (_, a),
        running_server(database_url, tmp_path / "b.log") as (_, b),
        httpx.Client(base_url=a + "/scim/v2", headers=headers, timeout=30) as on_a,
        httpx.Client(base_url=b + "/scim/v2", headers=headers, timeout=30) as on_b,
    ):
        for n in range(12):
            assert on_a.post("/Users", json={"userName": f"two-{n:02d}"}).status_code == 201
        alternating = walk([on_a, on_b], sortBy="userName", count=3)
        assert alternating == walk([on_b], sortBy="userName", count=3)
        assert [n for n in alternating if n.startswith("two-")] == [f"two-{n:02d}" for n in range(12)]
