"""Concurrent writes lose nothing: the end state is the serial application of every acknowledged request.

Issue 11, item 1. On SQLite one server process; on PostgreSQL two server
processes on one database, the clients spread over both (what ``--workers 2`` or
two hosts behind a balancer do). Sixteen clients each time, over HTTP:

- member add/remove PATCHes on one group, each client owning its own users and
  sending a seeded, known sequence: each user's final membership is decided by
  its owner's last acknowledged operation, and the feed lists, per user, exactly
  the changes that sequence makes, in its order;
- PATCHes of one user's displayName with ``If-Match``: a stale version gets 412,
  each acknowledged write got a version of its own (no silent overwrite), the
  final version counts the acknowledged writes and the final value is the
  acknowledged write with the highest version (RFC 7644 §3.14);
- POSTs of one userName (in several cases at once): exactly one 201, 409
  ``uniqueness`` for every other (RFC 7644 §3.3).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.conftest import LiveServer, running_server, scimhub
from tests.integration.test_member_integrity import feed_since, head
from tests.integration.test_scim_http import new_group, new_user, patch, unique

CLIENTS = 16
T = TypeVar("T")


@pytest.fixture(scope="module")
def servers(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    """Yield one server on a fresh SQLite file, or two server processes on one fresh PostgreSQL database."""
    directory = tmp_path_factory.mktemp("concurrency")
    url = module_database_url
    live = []
    token = scimhub("token", "create", "--name", "tests", database_url=url).stdout.splitlines()[-1]
    with ExitStack() as stack:
        for n in range(1 if url.startswith("sqlite") else 2):
            log = directory / f"serve-{n}.log"
            _, server_url = stack.enter_context(running_server(url, log))
            live.append(LiveServer(server_url, url, token, log))
        yield live


def together(count: int, work: Callable[[int, httpx.Client], T], servers: list[LiveServer]) -> list[T]:
    """Run ``work(k, client)`` on ``count`` threads at once (a barrier), client k on server k mod n."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            with servers[k % len(servers)].client() as http:
                barrier.wait(timeout=60)
                results[k] = work(k, http)
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return results


USERS_PER_CLIENT = 4
PATCHES_PER_CLIENT = 12


def plan(k: int) -> list[list[tuple[str, int]]]:
    """Return client k's PATCHes: each a list of (op, index of one of its own users), seeded."""
    rng = random.Random(k)
    return [
        [(rng.choice(("add", "remove")), u) for u in rng.sample(range(USERS_PER_CLIENT), rng.randint(1, 3))]
        for _ in range(PATCHES_PER_CLIENT)
    ]


def test_interleaved_member_changes_end_as_their_serial_application(servers: list[LiveServer]) -> None:
    """16 clients add and remove their own members of one group: the group and the feed follow every 2xx."""
    with servers[0].client() as scim:
        group = new_group(scim)
        users = [[new_user(scim) for _ in range(USERS_PER_CLIENT)] for _ in range(CLIENTS)]
    offset = head(servers[0])

    def run(k: int, http: httpx.Client) -> list[tuple[list[tuple[str, int]], int]]:
        done = []
        for operations in plan(k):
            body = [
                {"op": op, "path": "members", "value": [{"value": users[k][u]["id"]}]} for op, u in operations
            ]
            if any(op == "remove" for op, _ in operations):  # a remove by filter, as Entra sends it
                body = [
                    {"op": "remove", "path": f'members[value eq "{users[k][u]["id"]}"]'}
                    if op == "remove"
                    else o
                    for (op, u), o in zip(operations, body, strict=True)
                ]
            done.append((operations, patch(http, f"/Groups/{group['id']}", *body).status_code))
        return done

    outcomes = together(CLIENTS, run, servers)

    assert {status for done in outcomes for _, status in done} == {204}
    expected_members: set[str] = set()
    expected_events: dict[str, list[str]] = {}
    for k, done in enumerate(outcomes):
        member = [False] * USERS_PER_CLIENT
        for operations, _ in done:
            for op, u in operations:
                urn = f"urn:li:corpuser:{users[k][u]['userName']}"
                if member[u] != (op == "add"):
                    expected_events.setdefault(urn, []).append(op.upper())
                member[u] = op == "add"
        expected_members |= {users[k][u]["id"] for u in range(USERS_PER_CLIENT) if member[u]}
    with servers[-1].client() as scim:
        listed = {m["value"] for m in scim.get(f"/Groups/{group['id']}").json().get("members", [])}
    assert listed == expected_members
    published: dict[str, list[str]] = {}
    for event in feed_since(servers[0], offset):
        if event["category"] == "GROUP_MEMBERSHIP":
            published.setdefault(event["entityUrn"], []).append(event["operation"])
    assert published == expected_events


def test_stale_if_match_gets_412_and_no_write_is_lost(servers: list[LiveServer]) -> None:
    """16 clients PATCH one user's displayName with If-Match: versions count the 2xx, the last one wins."""
    with servers[0].client() as scim:
        user = new_user(scim)
    first = int(user["meta"]["version"].strip('W/"'))

    def run(k: int, http: httpx.Client) -> list[tuple[str, int, str | None]]:
        done = []
        for i in range(6):
            etag = http.get(f"/Users/{user['id']}").headers["ETag"]
            value = f"client {k} write {i}"
            operation = {"op": "replace", "path": "displayName", "value": value}
            response = patch(http, f"/Users/{user['id']}", operation, headers={"If-Match": etag})
            done.append((value, response.status_code, response.headers.get("ETag")))
        return done

    outcomes = [write for done in together(CLIENTS, run, servers) for write in done]

    assert {status for _, status, _ in outcomes} <= {200, 412}
    acknowledged = {int(tag.strip('W/"')): value for value, status, tag in outcomes if status == 200 and tag}
    count = sum(status == 200 for _, status, _ in outcomes)
    assert len(acknowledged) == count, "two acknowledged writes got the same version: one overwrote the other"
    assert sorted(acknowledged) == list(range(first + 1, first + count + 1))
    assert any(status == 412 for _, status, _ in outcomes), "no request was stale: the workload raced nothing"
    with servers[-1].client() as scim:
        final = scim.get(f"/Users/{user['id']}").json()
    assert int(final["meta"]["version"].strip('W/"')) == first + count
    assert final["displayName"] == acknowledged[max(acknowledged)]


@pytest.mark.parametrize("round", range(4))
def test_one_user_name_posted_at_once_is_created_once(servers: list[LiveServer], round: int) -> None:
    """16 clients POST one userName (in several cases) at once: one 201, fifteen 409 uniqueness."""
    name = unique(f"same{round}")

    def run(k: int, http: httpx.Client) -> httpx.Response:
        spelled = name.upper() if k % 3 == 1 else name.title() if k % 3 == 2 else name
        return http.post("/Users", json={"userName": spelled})

    responses = together(CLIENTS, run, servers)

    assert sorted(r.status_code for r in responses) == [201] + [409] * (CLIENTS - 1)
    assert {r.json().get("scimType") for r in responses if r.status_code == 409} == {"uniqueness"}
    with servers[-1].client() as scim:
        found = scim.get("/Users", params={"filter": f'userName eq "{name}"'}).json()
    assert found["totalResults"] == 1
