"""A membership never outlives its member, whatever the interleaving (issue 11; ADR 0020).

Eight clients delete members while eight others add the same members to groups,
each pair meeting on one member at a time (a barrier), over HTTP against the real
server, on both engines. ``group_members.member_id`` has no foreign key (a member
is a user or a group), so only a lock keeps a row from being added for a member
deleted in between: without it PostgreSQL kept deleted users as members and the
feed published ``GROUP_MEMBERSHIP ADD`` after their ``HARD_DELETE``, which the
DataHub push would have turned back into a user.

Checked after each race: no membership (or role) row names a deleted member, read
from the database and from the groups over SCIM; in the feed, no ADD of a member
comes after its HARD_DELETE, and an ADD is there exactly for each acknowledged add;
an add that lost the race answers what adding a never-existing id answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from scimhub.store.sql.tables import group_members, user_roles
from tests.conftest import BACKENDS
from tests.integration.conftest import LiveServer, own_server
from tests.integration.test_scim_http import new_group, new_user, patch, unique
from tests.web.test_feed_poll import POLL, decoded

PAIRS = 8
"""Deleting clients, and as many adding clients."""
PER_PAIR = 8
"""Members each pair races on: 64 in all."""


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Yield a server of this module's own, on a fresh database per backend."""
    yield from own_server(request, tmp_path_factory)


@dataclass(frozen=True)
class Outcome:
    """What the adding and the deleting client got for one member."""

    added: httpx.Response
    deleted: httpx.Response


Call = Callable[[httpx.Client, str], httpx.Response]
"""One request about one member id, on a client of its own."""


def race(
    live: LiveServer, ids: list[str], add: Call, remove: Call, base: str = "/scim/v2"
) -> dict[str, Outcome]:
    """Run ``PAIRS`` adding and ``PAIRS`` deleting clients; pair k meets on its members one at a time."""
    results: dict[str, dict[str, httpx.Response]] = {id: {} for id in ids}
    failures: list[BaseException] = []

    def client(share: list[str], barrier: threading.Barrier, call: Call, key: str, api: str) -> None:
        try:
            with live.client(base=api) as http:
                for id in share:
                    barrier.wait(timeout=60)
                    results[id][key] = call(http, id)
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            failures.append(error)
            barrier.abort()

    threads = []
    for k in range(PAIRS):
        share, barrier = ids[k::PAIRS], threading.Barrier(2)
        threads.append(threading.Thread(target=client, args=(share, barrier, add, "added", base)))
        threads.append(threading.Thread(target=client, args=(share, barrier, remove, "deleted", "/scim/v2")))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return {id: Outcome(r["added"], r["deleted"]) for id, r in results.items()}


def head(live: LiveServer) -> str:
    """Return the feed's offset now: the race's events come after it."""
    response = httpx.get(live.url + POLL, headers={"Authorization": f"Bearer {live.token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["offsetId"])


def feed_since(live: LiveServer, offset: str) -> list[dict[str, Any]]:
    """Return every event after ``offset``, in feed order."""
    events: list[dict[str, Any]] = []
    with httpx.Client(headers={"Authorization": f"Bearer {live.token}"}, timeout=30) as http:
        while True:
            response = http.get(live.url + POLL, params={"offsetId": offset, "limit": 1000})
            assert response.status_code == 200, response.text
            body = response.json()
            events += decoded(body)
            offset = body["offsetId"]
            if body["count"] == 0:
                return events


def feed_faults(
    events: list[dict[str, Any]], urns: dict[str, str], acknowledged: set[str], category: str
) -> dict[str, int]:
    """Count the members whose events contradict the responses: each must have one HARD_DELETE,
    one ADD before it if its add was acknowledged, and no ADD if it was refused."""
    faults = {"ADDs after the member's HARD_DELETE": 0, "acknowledged adds without an ADD event": 0}
    for id, urn in urns.items():
        mine = [(e["category"], e["operation"]) for e in events if e["entityUrn"] == urn]
        assert mine.count(("LIFECYCLE", "HARD_DELETE")) == 1, (urn, mine)
        adds = [at for at, kind in enumerate(mine) if kind == (category, "ADD")]
        assert len(adds) <= (1 if id in acknowledged else 0), (urn, mine)
        faults["ADDs after the member's HARD_DELETE"] += sum(
            at > mine.index(("LIFECYCLE", "HARD_DELETE")) for at in adds
        )
        faults["acknowledged adds without an ADD event"] += id in acknowledged and not adds
    return faults


def count_rows(live: LiveServer, table: Any) -> int:
    """Return how many rows ``table`` holds, read from the database itself."""
    engine = create_engine(live.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def assert_refused_as_unknown(
    outcome: httpx.Response, unknown: httpx.Response, id: str, stranger: str
) -> None:
    """Assert an add that lost the race answers as an add of an id that never existed does."""
    assert outcome.status_code == unknown.status_code, outcome.text
    body, expected = outcome.json(), unknown.json()
    assert body.get("scimType") == expected.get("scimType")
    assert body["detail"] == expected["detail"].replace(stranger, id)


def add_member(groups: dict[str, str]) -> Call:
    """Return the call that adds a member to the group its pair uses."""
    return lambda http, id: patch(
        http, f"/Groups/{groups[id]}", {"op": "add", "path": "members", "value": [{"value": id}]}
    )


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_no_membership_outlives_its_member(live: LiveServer, kind: str) -> None:
    """8 clients delete users (or groups) while 8 add them to groups: no deleted member stays listed."""
    with live.client() as scim:
        parents = [new_group(scim)["id"] for _ in range(PAIRS)]
        members = [new_user(scim) if kind == "Users" else new_group(scim) for _ in range(PAIRS * PER_PAIR)]
        stranger = unique("stranger")
        unknown = patch(
            scim, f"/Groups/{parents[0]}", {"op": "add", "path": "members", "value": [{"value": stranger}]}
        )
        assert unknown.status_code == 400, unknown.text
        rows_before = count_rows(live, group_members)
    ids = [m["id"] for m in members]
    urns = {m["id"]: _urn(kind, m) for m in members}
    offset = head(live)
    outcomes = race(
        live,
        ids,
        add_member({id: parents[at % PAIRS] for at, id in enumerate(ids)}),
        lambda http, id: http.delete(f"/{kind}/{id}"),
    )

    assert all(o.deleted.status_code == 204 for o in outcomes.values()), [
        o.deleted.text for o in outcomes.values()
    ]
    acknowledged = {id for id, o in outcomes.items() if o.added.is_success}
    for id in set(ids) - acknowledged:
        assert_refused_as_unknown(outcomes[id].added, unknown, id, stranger)
    with live.client() as scim:
        listed = {
            m["value"] for parent in parents for m in scim.get(f"/Groups/{parent}").json().get("members", [])
        }
    found = {
        "deleted members listed in a group": len(listed & set(ids)),
        "membership rows left in the database": count_rows(live, group_members) - rows_before,
        **feed_faults(feed_since(live, offset), urns, acknowledged, "GROUP_MEMBERSHIP"),
    }
    assert set(found.values()) == {0}, found


def test_no_role_assignment_outlives_its_user(live: LiveServer) -> None:
    """8 clients delete users while 8 assign them a role: 200 or 404, never a 5xx, no row or late ADD left."""
    with live.client() as scim:
        users = [new_user(scim) for _ in range(PAIRS * PER_PAIR)]
    ids = [u["id"] for u in users]
    with live.client(base="/api/v1") as api:
        unknown = api.put(f"/roles/Editor/users/{(stranger := unique('stranger'))}")
        assert unknown.status_code == 404, unknown.text
    rows_before = count_rows(live, user_roles)
    offset = head(live)
    outcomes = race(
        live,
        ids,
        lambda http, id: http.put(f"/roles/Editor/users/{id}"),
        lambda http, id: http.delete(f"/Users/{id}"),
        "/api/v1",
    )

    assert all(o.deleted.status_code == 204 for o in outcomes.values())
    acknowledged = {id for id, o in outcomes.items() if o.added.is_success}
    for id in set(ids) - acknowledged:
        refused = outcomes[id].added
        assert refused.status_code == 404, refused.text
        assert refused.json() == {
            **unknown.json(),
            **_message_for(refused.json(), unknown.json(), id, stranger),
        }
    assert count_rows(live, user_roles) == rows_before
    urns = {u["id"]: _urn("Users", u) for u in users}
    faults = feed_faults(feed_since(live, offset), urns, acknowledged, "ROLE_MEMBERSHIP")
    assert set(faults.values()) == {0}, faults


def _message_for(body: dict[str, Any], unknown: dict[str, Any], id: str, stranger: str) -> dict[str, Any]:
    """Return the fields of ``unknown``'s error that name the id, as they read for ``id``."""
    return {
        key: value.replace(stranger, id)
        for key, value in unknown.items()
        if isinstance(value, str) and stranger in value
    }


def _urn(kind: str, resource: dict[str, Any]) -> str:
    if kind == "Users":
        return f"urn:li:corpuser:{resource['userName']}"
    return f"urn:li:corpGroup:{resource['displayName']}"
