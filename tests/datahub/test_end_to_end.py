"""End to end: SCIM over HTTP into a live ``scimhub serve``, pushed by the real SDK into a stand-in GMS.

The server runs with ``SCIMHUB_DATAHUB_GMS_URL`` pointing at the stand-in the
test serves; after each provisioning step the test waits for ``/readyz`` to
report no lag, so each step's push is one batch and the MCPs are exact.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.datahub.gms import StandInGms
from tests.integration.conftest import LiveServer, running_server, scimhub

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BJENSEN, JSMITH = "urn:li:corpuser:bjensen", "urn:li:corpuser:jsmith"
ENG = "urn:li:corpGroup:Engineering"
STAMP = "lastModified.time"
"""Stands for the time in corpUserStatus, checked separately: it is the user's last change, in ms."""


@contextmanager
def serving(database_url: str, gms_url: str, token: str, log: Path) -> Iterator[LiveServer]:
    """Run a live server whose push goes to ``gms_url``."""
    admin = scimhub("token", "create", "--name", "tests", database_url=database_url).stdout.splitlines()[-1]
    env = {"SCIMHUB_DATAHUB_GMS_URL": gms_url, "SCIMHUB_DATAHUB_TOKEN": token}
    with running_server(database_url, log, env) as (process, url):
        yield LiveServer(url, database_url, admin, log)


@pytest.fixture
def pushing(database_url: str, gms: StandInGms, tmp_path: Path) -> Iterator[LiveServer]:
    """Yield a live server whose push goes to the stand-in GMS."""
    with serving(database_url, gms.url, gms.token, tmp_path / "serve.log") as server:
        yield server


def settle(server: LiveServer) -> dict[str, Any]:
    """Wait until the push has caught up; return the ``datahub`` part of ``/readyz``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = httpx.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 200
        datahub: dict[str, Any] = ready.json()["datahub"]
        if datahub["lag"] == 0 and datahub["state"] == "ok":
            return datahub
        time.sleep(0.05)
    raise AssertionError(f"the push did not catch up: {datahub}\n{server.log.read_text()[-3000:]}")


def user(info: dict[str, Any], status: str, groups: list[str], roles: list[str], origin: str) -> list[Any]:
    return [
        ("corpUserInfo", {"customProperties": {}, **info, "system": False}),
        (
            "corpUserStatus",
            {"status": status, "lastModified": {"time": STAMP, "actor": "urn:li:corpuser:SCIM_client"}},
        ),
        ("origin", {"type": "EXTERNAL", "externalType": origin}),
        ("status", {"removed": False}),
        ("groupMembership", {"groups": groups}),
        ("roleMembership", {"roles": [f"urn:li:dataHubRole:{r}" for r in roles]}),
    ]


def group(roles: list[str]) -> list[Any]:
    return [
        ("corpGroupInfo", {"displayName": "Engineering", "admins": [], "members": [], "groups": []}),
        ("origin", {"type": "EXTERNAL", "externalType": "SCIM_client_eng-1"}),
        ("status", {"removed": False}),
        ("roleMembership", {"roles": [f"urn:li:dataHubRole:{r}" for r in roles]}),
    ]


def received(gms: StandInGms, urn: str, since_ms: int) -> list[Any]:
    """Return what GMS took for ``urn``, each corpUserStatus time checked and replaced by ``STAMP``."""
    found = []
    for aspect, value in gms.of(urn):
        if aspect == "corpUserStatus":
            assert isinstance(value, dict) and value["lastModified"]["time"] >= since_ms
            value = {**value, "lastModified": {**value["lastModified"], "time": STAMP}}
        found.append((aspect, value))
    return found


def patch(client: httpx.Client, path: str, *operations: dict[str, Any]) -> None:
    response = client.patch(path, json={"schemas": [PATCH], "Operations": list(operations)})
    assert response.status_code in (200, 204), response.text


def test_provisioning_over_scim_reaches_datahub_as_exact_mcps(
    pushing: LiveServer, gms: StandInGms, database_url: str
) -> None:
    """Users, groups, memberships, roles, deactivation and deletion arrive as full-state MCPs, in order."""
    since = int(time.time() * 1000) - 1000
    assert settle(pushing)["enabled"] is True
    js_info = {"active": True, "displayName": "John Smith", "email": "jsmith@example.com"}
    bj_info = {
        "active": True,
        "displayName": "Babs Jensen",
        "email": "bjensen@example.com",
        "title": "Tour Guide",
        "departmentName": "Tours",
        "firstName": "Barbara",
        "lastName": "Jensen",
        "fullName": "Ms. Barbara J Jensen III",
    }
    with pushing.client() as scim:
        # 1. A user, 2. another one whose manager is the first, with a provisioned role.
        js = scim.post(
            "/Users",
            json={
                "schemas": [USER],
                "userName": "jsmith",
                "displayName": "John Smith",
                "emails": [{"value": "jsmith@example.com", "primary": True}],
            },
        ).json()
        settle(pushing)
        bj = scim.post(
            "/Users",
            json={
                "schemas": [USER, ENTERPRISE],
                "userName": "bjensen",
                "externalId": "bj-1",
                "displayName": "Babs Jensen",
                "title": "Tour Guide",
                "name": {
                    "givenName": "Barbara",
                    "familyName": "Jensen",
                    "formatted": "Ms. Barbara J Jensen III",
                },
                "emails": [{"value": "bjensen@example.com", "type": "work"}],
                "active": True,
                "roles": [{"value": "Editor", "primary": True}],
                ENTERPRISE: {"department": "Tours", "manager": {"value": js["id"]}},
            },
        ).json()
        settle(pushing)
        # 3. A group with a member, 4. a second member.
        eng = scim.post(
            "/Groups",
            json={"displayName": "Engineering", "externalId": "eng-1", "members": [{"value": bj["id"]}]},
        ).json()
        settle(pushing)
        patch(scim, f"/Groups/{eng['id']}", {"op": "add", "path": "members", "value": [{"value": js["id"]}]})
        settle(pushing)
        # 5. A role for the group, by an administrator.
        scimhub("role", "assign", "--role", "Reader", "--group", "Engineering", database_url=database_url)
        settle(pushing)
        # 6. Deactivation, 7. a member removed, 8. a user deleted, 9. the group deleted.
        patch(scim, f"/Users/{bj['id']}", {"op": "replace", "path": "active", "value": False})
        settle(pushing)
        patch(scim, f"/Groups/{eng['id']}", {"op": "remove", "path": f'members[value eq "{js["id"]}"]'})
        settle(pushing)
        assert scim.delete(f"/Users/{js['id']}").status_code == 204
        settle(pushing)
        assert scim.delete(f"/Groups/{eng['id']}").status_code == 204
        status = settle(pushing)

    assert received(gms, JSMITH, since) == [
        *user(js_info, "ACTIVE", [], [], "SCIM_client_null"),  # 1
        *user(js_info, "ACTIVE", [ENG], [], "SCIM_client_null"),  # 4
        *user(js_info, "ACTIVE", [], [], "SCIM_client_null"),  # 7
        ("DELETE", None),  # 8
    ]
    bj_managed = {**bj_info, "managerUrn": JSMITH}
    suspended = {**bj_info, "active": False}  # 9: jsmith is gone, so no managerUrn any more
    assert received(gms, BJENSEN, since) == [
        *user(bj_managed, "ACTIVE", [], ["Editor"], "SCIM_client_bj-1"),  # 2
        *user(bj_managed, "ACTIVE", [ENG], ["Editor"], "SCIM_client_bj-1"),  # 3
        *user({**bj_managed, "active": False}, "SUSPENDED", [ENG], ["Editor"], "SCIM_client_bj-1"),  # 6
        *user(suspended, "SUSPENDED", [], ["Editor"], "SCIM_client_bj-1"),  # 9
    ]
    assert received(gms, ENG, since) == [*group([]), *group(["Reader"]), ("DELETE", None)]  # 3, 5, 9
    # In one batch, a group comes before the members that name it and goes after they dropped it.
    order = [r.urn for r in gms.received]
    created = order.index(ENG)
    assert order[created : created + 10] == [ENG] * 4 + [BJENSEN] * 6  # 3
    assert order[-7:] == [BJENSEN] * 6 + [ENG] and gms.received[-1].aspect == "DELETE"  # 9
    # The built-in administrator is never pushed; DataHub ends up with bjensen alone.
    assert {r.urn for r in gms.received} == {JSMITH, BJENSEN, ENG}
    assert list(gms.entities()) == [BJENSEN]
    assert status["lastError"] is None and status["lastSuccess"] is not None


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("where", "state", "fix"),
    [("frontend", "halted", "frontend's GMS proxy"), ("nowhere", "retrying", "unreachable")],
)
def test_scim_keeps_working_while_datahub_is_misconfigured(
    database_url: str, gms: StandInGms, tmp_path: Path, where: str, state: str, fix: str
) -> None:
    """A frontend URL halts the push, an unreachable GMS is retried; both are logged at start and shown
    in ``/readyz``, which stays 200, and SCIM provisioning goes on."""
    gms.config = {"config": {"appVersion": "frontend"}}
    url = gms.url if where == "frontend" else _closed_port()
    with serving(database_url, url, gms.token, tmp_path / "serve.log") as server, server.client() as scim:
        assert scim.post("/Users", json={"schemas": [USER], "userName": "alice"}).status_code == 201
        deadline = time.monotonic() + 30
        while (ready := httpx.get(server.url + "/readyz", timeout=5)).json()["datahub"]["state"] != state:
            assert time.monotonic() < deadline, ready.json()
            time.sleep(0.1)
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        datahub = ready.json()["datahub"]
        assert fix in datahub["lastError"] and "SCIMHUB_DATAHUB_GMS_URL" in datahub["lastError"]
        assert datahub["lag"] > 0
        assert scim.get("/Users", params={"filter": 'userName eq "alice"'}).json()["totalResults"] == 1
    assert fix in server.log.read_text()  # reported at start, in the log
    assert gms.received == []


def test_a_group_renamed_by_okta_stays_one_datahub_entity(pushing: LiveServer, gms: StandInGms) -> None:
    """Okta's rename (a path-less replace with the group's id) rewrites corpGroupInfo on the URN of its
    creation; nothing is deleted, and the member's groupMembership still names that URN (ADR 0037)."""
    settle(pushing)
    with pushing.client() as scim:
        bj = scim.post("/Users", json={"schemas": [USER], "userName": "bjensen"}).json()
        eng = scim.post(
            "/Groups", json={"displayName": "Engineering", "members": [{"value": bj["id"]}]}
        ).json()
        settle(pushing)
        patch(
            scim,
            f"/Groups/{eng['id']}",
            {"op": "replace", "value": {"id": eng["id"], "displayName": "Platform"}},
        )
        settle(pushing)
    infos = [value for aspect, value in gms.of(ENG) if aspect == "corpGroupInfo"]
    assert [info["displayName"] for info in infos if info is not None] == ["Engineering", "Platform"]
    assert ("DELETE", None) not in gms.of(ENG)
    assert gms.of("urn:li:corpGroup:Platform") == []
    memberships = [value for aspect, value in gms.of(BJENSEN) if aspect == "groupMembership"]
    assert memberships[-1] == {"groups": [ENG]}
    assert set(gms.entities()) == {BJENSEN, ENG}
