"""Writes that record more events than one SQL statement can carry, over HTTP, on both engines.

PostgreSQL takes at most 65,535 bind parameters per statement and the outbox
writes 8 per event: a PATCH adding 9,000 members once answered 500 there; a PATCH
now carries at most 1,000 values (ADR 0025), so the 9,000 members come in one PUT
(docs/benchmarks.md, finding 3). The users are seeded the way the benchmark
seeds them (bench/seed.py: the server's own rows, sent in bulk), in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bench.seed import seed_users

from scimhub.directory.actors import SYSTEM
from scimhub.settings import Settings
from scimhub.wiring import build
from tests.conftest import BACKENDS
from tests.integration.conftest import LiveServer, own_server
from tests.integration.test_scim_http import new_group, unique
from tests.web.test_feed_poll import decoded, head, poll

MEMBERS = 9_000
"""More than 8,191: their events do not fit in one INSERT on PostgreSQL."""


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Yield a server of this module's own (its 9,000 users would crowd the shared server's lists)."""
    yield from own_server(request, tmp_path_factory)


def _events_after(live: LiveServer, offset: str) -> list[dict[str, Any]]:
    """Return every event of the feed after ``offset``, polled a page of 1,000 at a time."""
    found: list[dict[str, Any]] = []
    while True:
        response = poll(live, offsetId=offset, limit=1000)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["count"] == 0:
            return found
        found += decoded(body)
        offset = body["offsetId"]


def test_a_put_of_9000_members_is_stored_and_published_in_order(live: LiveServer, scim: httpx.Client) -> None:
    """One PUT of a group with 9,000 members answers 200; the group has them all; the feed holds one
    GROUP_MEMBERSHIP ADD per member, in the order the write recorded them (by member id).

    A PATCH carries at most 1,000 values (ADR 0025); a PUT carries the whole group."""
    hub = build(Settings(database_url=live.database_url), upgrade=False)
    try:
        users = seed_users(hub.store, SYSTEM, unique("crowd"), MEMBERS)
    finally:
        hub.close()
    group = new_group(scim)
    offset = head(live)

    added = [{"value": user.id} for user in users]
    response = scim.put(
        f"/Groups/{group['id']}", json={"displayName": group["displayName"], "members": added}
    )

    assert response.status_code == 200, response.text
    stored = scim.get(f"/Groups/{group['id']}")
    assert sorted(m["value"] for m in stored.json()["members"]) == sorted(user.id for user in users)
    published = [(e["entityUrn"], e["category"], e["operation"]) for e in _events_after(live, offset)]
    in_order = sorted(users, key=lambda user: user.id)
    assert published == [(user.urn, "GROUP_MEMBERSHIP", "ADD") for user in in_order]
