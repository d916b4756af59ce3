"""``POST /Bulk`` (RFC 7644 §3.7, ADR 0034) on the live server, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import SCIM, LiveServer, running_server, scimhub
from tests.integration.test_scim_http import ERROR, PATCH_OP, unique
from tests.web.conftest import People
from tests.web.test_feed_poll import decoded, head, poll

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def bulk(client: httpx.Client, *operations: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": list(operations), **extra})


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schemas"] == [BULK_RESPONSE]
    operations: list[dict[str, Any]] = body["Operations"]
    return operations


def create_user(bulk_id: str, user_name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"userName": user_name, **attributes},
    }


def create_group(bulk_id: str, name: str, *members: str) -> dict[str, Any]:
    data = {"displayName": name, "members": [{"value": m} for m in members]}
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def patch(path: str, *operations: dict[str, Any]) -> dict[str, Any]:
    return {"method": "PATCH", "path": path, "data": {"schemas": [PATCH_OP], "Operations": list(operations)}}


def find(client: httpx.Client, resources: str, filter: str) -> list[dict[str, Any]]:
    response = client.get(f"/{resources}", params={"filter": filter})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["Resources"]
    return found


def test_creates_with_forward_references_are_resolved(scim: httpx.Client) -> None:
    """A group naming users created later, a PATCH on a bulkId path: all 2xx, in the request's order."""
    alice, bob, team = unique("alice"), unique("bob"), unique("team")
    answered = results(
        bulk(
            scim,
            create_group("team", team, "bulkId:alice", "bulkId:bob"),
            create_user("alice", alice),
            patch("/Users/bulkId:bob", {"op": "replace", "path": "displayName", "value": "Bob B."}),
            create_user("bob", bob),
        )
    )
    assert [(r["method"], r.get("bulkId"), r["status"]) for r in answered] == [
        ("POST", "team", "201"),
        ("POST", "alice", "201"),
        ("PATCH", None, "200"),
        ("POST", "bob", "201"),
    ]
    (created_alice,) = find(scim, "Users", f'userName eq "{alice}"')
    (created_bob,) = find(scim, "Users", f'userName eq "{bob}"')
    assert answered[1]["location"] == created_alice["meta"]["location"]
    assert answered[2]["location"] == created_bob["meta"]["location"] and answered[2]["version"] == 'W/"2"'
    assert created_bob["displayName"] == "Bob B."
    (group,) = find(scim, "Groups", f'displayName eq "{team}"')
    members = scim.get(f"/Groups/{group['id']}").json()["members"]
    assert {m["value"] for m in members} == {created_alice["id"], created_bob["id"]}
    assert "response" not in answered[0]


def test_fail_on_errors_stops_the_run_and_keeps_what_ran(scim: httpx.Client) -> None:
    """The second POST's userName is taken (409): with failOnErrors 1 the third never runs."""
    taken, first, never = unique("taken"), unique("first"), unique("never")
    assert scim.post("/Users", json={"userName": taken}).status_code == 201
    answered = results(
        bulk(
            scim,
            create_user("first", first),
            create_user("dup", taken),
            create_user("never", never),
            failOnErrors=1,
        )
    )
    assert [r["status"] for r in answered] == ["201", "409"]
    assert (
        answered[1]["response"]["schemas"] == [ERROR] and answered[1]["response"]["scimType"] == "uniqueness"
    )
    assert "location" not in answered[1]
    assert len(find(scim, "Users", f'userName eq "{first}"')) == 1  # not undone: each op commits alone
    assert find(scim, "Users", f'userName eq "{never}"') == []


def test_a_cycle_of_references_is_refused_and_writes_nothing(scim: httpx.Client) -> None:
    a, b = unique("cycle-a"), unique("cycle-b")
    answered = results(bulk(scim, create_group("a", a, "bulkId:b"), create_group("b", b, "bulkId:a")))
    assert [r["status"] for r in answered] == ["409", "409"]
    assert "cycle of bulkId references (a → b → a)" in answered[0]["response"]["detail"]
    assert find(scim, "Groups", f'displayName eq "{a}" or displayName eq "{b}"') == []


def test_each_operation_needs_its_own_privilege(live: LiveServer) -> None:
    """A Reader's token may send /Bulk, but every write in it is refused 403, as alone; nothing is written."""
    people = People(live)
    try:
        reader = people.person("Reader")
        name = unique("by-reader")
        with live.client(reader.token) as as_reader:
            answered = results(
                bulk(as_reader, create_user("u", name), {"method": "DELETE", "path": f"/Users/{reader.id}"})
            )
            alone = as_reader.post("/Users", json={"userName": name})
        assert [r["status"] for r in answered] == ["403", "403"]
        assert answered[0]["response"]["detail"] == alone.json()["detail"] and alone.status_code == 403
        assert "MANAGE_USERS_AND_GROUPS" in answered[0]["response"]["detail"]
        assert find(people.scim, "Users", f'userName eq "{name}"') == []
        assert people.scim.get(f"/Users/{reader.id}").status_code == 200
    finally:
        people.close()


def _events(live: LiveServer, offset: str, names: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """Return (entity, category, operation, modifier) of the events on ``names``, each named by its role."""
    body = poll(live, offsetId=offset, limit=1000).json()
    roles = {f"urn:li:corpuser:{n}": r for r, n in names.items()} | {
        f"urn:li:corpGroup:{n}": r for r, n in names.items()
    }
    return [
        (
            roles[e["entityUrn"]],
            e["category"],
            e["operation"],
            roles.get(e.get("modifier", ""), e.get("modifier", "")),
        )
        for e in decoded(body)
        if e["entityUrn"] in roles
    ]


def test_a_bulk_publishes_the_events_its_single_requests_publish(
    live: LiveServer, scim: httpx.Client
) -> None:
    """The same writes, alone and in one /Bulk: the same change events, in the same order."""
    alone = {"user": unique("alone"), "group": unique("alone-group")}
    offset = head(live)
    user = scim.post("/Users", json={"userName": alone["user"], "roles": [{"value": "Editor"}]}).json()
    group = scim.post(
        "/Groups", json={"displayName": alone["group"], "members": [{"value": user["id"]}]}
    ).json()
    operations = [{"op": "replace", "path": "active", "value": False}]
    assert scim.patch(
        f"/Users/{user['id']}", json={"schemas": [PATCH_OP], "Operations": operations}
    ).is_success
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    single = _events(live, offset, alone)

    together = {"user": unique("bulk"), "group": unique("bulk-group")}
    offset = head(live)
    answered = results(
        bulk(
            scim,
            create_user("u", together["user"], roles=[{"value": "Editor"}]),
            create_group("g", together["group"], "bulkId:u"),
            patch("/Users/bulkId:u", *operations),
            {"method": "DELETE", "path": "/Groups/bulkId:g"},
        )
    )
    assert [r["status"] for r in answered] == ["201", "201", "200", "204"]
    assert _events(live, offset, together) == single
    assert {category for _, category, _, _ in single} >= {"LIFECYCLE", "GROUP_MEMBERSHIP", "ROLE_MEMBERSHIP"}


def test_the_service_provider_config_advertises_bulk(scim: httpx.Client) -> None:
    assert scim.get("/ServiceProviderConfig").json()["bulk"] == {
        "supported": True,
        "maxOperations": 1000,
        "maxPayloadSize": 1_048_576,
    }


@pytest.fixture
def hurried(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Yield a server whose bulk requests may run a fifth of a second (SCIMHUB_BULK_TIMEOUT_SECONDS=0.2).

    1,000 creations take 3 to 11 s here (ADR 0034) and never less than half a second: some start, the
    rest cannot.
    """
    token = scimhub("token", "create", "--name", "tests", database_url=database_url).stdout.splitlines()[-1]
    env = {"SCIMHUB_BULK_TIMEOUT_SECONDS": "0.2"}
    with running_server(database_url, tmp_path / "serve.log", env) as (_, url):
        yield LiveServer(url, database_url, token, tmp_path / "serve.log")


def test_limits_timeout_and_payload_on_one_server(hurried: LiveServer) -> None:
    """Over maxOperations or maxPayloadSize: 413 naming the limit, nothing run; past the deadline: 503s."""
    with hurried.client() as client:
        prefix = unique("late")
        too_many = [create_user(str(n), f"{prefix}-{n}") for n in range(1001)]
        refused = bulk(client, *too_many)
        assert refused.status_code == 413 and refused.json()["schemas"] == [ERROR]
        assert refused.json()["detail"] == (
            "the bulk request holds 1001 operations, more than maxOperations (1000)"
        )
        padded = [create_user(str(n), f"{prefix}-{n}", title="x" * 1100) for n in range(999)]
        large = bulk(client, *padded)
        assert large.status_code == 413
        assert large.json()["detail"] == "the request body is larger than maxPayloadSize (1048576 bytes)"
        assert find(client, "Users", f'userName sw "{prefix}"') == []

        answered = results(bulk(client, *too_many[:1000]))
        statuses = [r["status"] for r in answered]
        started = statuses.count("201")
        assert statuses == ["201"] * started + ["503"] * (1000 - started) and 0 < started < 1000
        late = answered[started]
        assert late["response"]["schemas"] == [ERROR] and "was not started" in late["response"]["detail"]
        created = client.get("/Users", params={"filter": f'userName sw "{prefix}"', "count": 0}).json()
        assert created["totalResults"] == started


def test_a_body_that_is_not_a_bulk_request_is_a_400(scim: httpx.Client) -> None:
    response = scim.post(
        "/Bulk", content=orjson.dumps({"Operations": []}), headers={"content-type": "application/scim+json"}
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"
    response = scim.post("/Bulk", content=b"{", headers={"content-type": "application/scim+json"})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"


def test_hostile_operations_get_an_error_each_and_never_a_5xx(scim: httpx.Client) -> None:
    """Nesting orjson reads but cannot re-encode, a NUL in a path, junk: each a 4xx in its place."""
    operations = [
        {"method": "PUT", "path": "/Users/x", "data": {"userName": "x", "title": "DEEP"}},
        {"method": "DELETE", "path": "/Users/a\u0000b"},
        {"method": "PATCH", "path": "/Users/x", "data": "not a PatchOp"},
        7,
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": None}},
    ]
    body = orjson.dumps({"schemas": [BULK_REQUEST], "Operations": operations})
    body = body.replace(b'"DEEP"', b"[" * 1000 + b"]" * 1000)  # no JSON encoder writes that deep
    answered = results(scim.post("/Bulk", content=body, headers={"content-type": "application/scim+json"}))
    statuses = [int(r["status"]) for r in answered]
    assert all(400 <= status < 500 for status in statuses), answered
    assert "nests deeper than 32 levels" in answered[0]["response"]["detail"]


def test_the_bulk_path_answers_on_the_datahub_prefix_too(live: LiveServer) -> None:
    with live.client(base="/gms/openapi" + SCIM) as client:
        assert results(bulk(client, {"method": "DELETE", "path": "/Users/none"}))[0]["status"] == "404"
