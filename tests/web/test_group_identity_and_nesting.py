"""Groups over HTTP on both engines: unknown members (ADR 0036), a rename keeps the URN (ADR 0037),
roles flow through nested groups, cycles included (ADR 0038)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from scimhub.domain.groups import group_urn
from tests.integration.conftest import SCIM, LiveServer
from tests.integration.test_scim_http import unique
from tests.web.conftest import People
from tests.web.test_feed_poll import decoded, head, poll

MAX_NESTING = 8
"""store/sql/roles.py's bound, restated: the test must fail if the bound moves unannounced."""


def _assign(people: People, role: str, group_id: str) -> None:
    response = people.api.put(f"/roles/{role}/groups/{group_id}")
    assert response.status_code == 200, response.text


def _effective(people: People, user_id: str) -> list[str]:
    response = people.api.get(f"/users/{user_id}")
    assert response.status_code == 200, response.text
    return [r["role"] for r in response.json()["roles"]["effective"]]


def _nest(people: People, inner: str, outer: str) -> None:
    response = people.patch(f"/Groups/{outer}", {"op": "add", "path": "members", "value": [{"value": inner}]})
    assert response.status_code == 204, response.text


# -- ADR 0036: members that do not exist ------------------------------------------------------


def test_an_unknown_member_is_refused_naming_it_and_what_a_member_must_be(people: People) -> None:
    """An id the server never issued is 400 invalidValue naming it and what to send; nothing changes."""
    user = people.user()
    group = people.group(user["id"])
    never = "00000000-aaaa-bbbb-cccc-000000000000"
    response = people.patch(
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": never}]},
        {"op": "replace", "path": "displayName", "value": unique("renamed")},
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue", response.text
    detail = response.json()["detail"]
    assert f"'{never}' is not the id of any User or Group here" in detail
    assert "the id this server issued for a User or Group" in detail
    after = people.scim.get(f"/Groups/{group['id']}").json()
    assert after["displayName"] == group["displayName"] and [m["value"] for m in after["members"]] == [
        user["id"]
    ]


def test_unknown_members_are_named_ten_at_most_with_their_count(people: People) -> None:
    """Twelve unknown ids: the first ten (sorted) are named and the two others counted; POST refuses alike."""
    ids = [f"missing-{i:02}" for i in range(12)]
    response = people.scim.post(
        "/Groups", json={"displayName": unique("g"), "members": [{"value": i} for i in ids]}
    )
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "'missing-09' and 2 more are not the id" in detail and "missing-10" not in detail


def test_a_user_name_is_not_a_member_value(people: People) -> None:
    """A userName sent as a member value is refused: the error says a userName is not an id."""
    user = people.user()
    response = people.scim.post(
        "/Groups", json={"displayName": unique("g"), "members": [{"value": user["userName"]}]}
    )
    assert response.status_code == 400 and "not a userName, email or externalId" in response.json()["detail"]


# -- ADR 0037: a group keeps its URN through a rename ------------------------------------------


def test_a_renamed_group_keeps_its_urn_in_the_feed_and_the_api(live: LiveServer, people: People) -> None:
    """A rename is one ATTRIBUTE MODIFY on the group's first URN; later events name that URN too."""
    first = unique("Okta Group")
    user = people.user()
    group = people.scim.post("/Groups", json={"displayName": first}).json()
    urn = group_urn(first)
    offset = head(live)
    renamed = unique("Renamed Group")
    rename = {"op": "replace", "value": {"id": group["id"], "displayName": renamed}}
    assert people.patch(f"/Groups/{group['id']}", rename).status_code == 204
    add = {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    assert people.patch(f"/Groups/{group['id']}", add).status_code == 204
    events = [
        e
        for e in decoded(poll(live, offsetId=offset, limit=1000).json())
        if urn in (e["entityUrn"], e.get("modifier"))
    ]
    assert [(e["entityUrn"], e["category"], e["operation"]) for e in events] == [
        (urn, "ATTRIBUTE", "MODIFY"),
        (f"urn:li:corpuser:{user['userName']}", "GROUP_MEMBERSHIP", "ADD"),
    ]
    assert events[1]["modifier"] == urn
    shown = people.api.get(f"/groups/{group['id']}").json()
    assert (shown["urn"], shown["displayName"]) == (urn, renamed)
    mine = people.api.get(f"/users/{user['id']}").json()["groups"]
    assert mine == [{"id": group["id"], "urn": urn, "displayName": renamed}]


def test_a_new_group_with_a_renamed_group_s_first_name_is_409_naming_the_urn(people: People) -> None:
    """The first name's URN stays the renamed group's: a new group that would make it is refused."""
    first = unique("Taken")
    group = people.scim.post("/Groups", json={"displayName": first}).json()
    assert (
        people.patch(
            f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": unique("x")}
        ).status_code
        == 204
    )
    again = people.scim.post("/Groups", json={"displayName": first})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness", again.text
    assert group_urn(first) in again.json()["detail"]
    assert people.scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert people.scim.post("/Groups", json={"displayName": first}).status_code == 201  # free once deleted


# -- ADR 0038: roles flow through nested groups ------------------------------------------------


def test_a_role_flows_to_the_members_of_a_nested_group(live: LiveServer, people: People) -> None:
    """User in Inner, Inner in Outer, Admin on Outer: its token can provision; taken away, it cannot."""
    person = people.person()
    inner = people.group(person.id)
    outer = people.group(inner["id"])
    url = f"{live.url}{SCIM}/Users?count=1"
    assert httpx.get(url, headers=person.headers()).status_code == 403
    _assign(people, "Admin", outer["id"])
    assert _effective(people, person.id) == ["Admin"]
    inherited = people.api.get(f"/users/{person.id}").json()["roles"]["inherited"]
    assert [(r["role"], r["group"]["id"]) for r in inherited] == [("Admin", outer["id"])]
    assert httpx.get(url, headers=person.headers()).status_code == 200
    out = {"op": "remove", "path": f'members[value eq "{inner["id"]}"]'}
    assert people.patch(f"/Groups/{outer['id']}", out).status_code == 204
    assert _effective(people, person.id) == []
    assert httpx.get(url, headers=person.headers()).status_code == 403


def test_a_cycle_of_groups_ends_and_grants_each_role_once(live: LiveServer, people: People) -> None:
    """A in B in A: reads answer at once, each member holds both groups' roles, each listed once."""
    person = people.person()
    a = people.group(person.id)
    b = people.group(a["id"])
    _nest(people, b["id"], a["id"])  # the cycle: B in A, A in B
    _assign(people, "Reader", a["id"])
    _assign(people, "Editor", b["id"])
    started = time.monotonic()
    roles = people.api.get(f"/users/{person.id}").json()["roles"]
    assert time.monotonic() - started < 5
    assert [r["role"] for r in roles["effective"]] == ["Editor", "Reader"]
    assert sorted((r["role"], r["group"]["id"]) for r in roles["inherited"]) == [
        ("Editor", b["id"]),
        ("Reader", a["id"]),
    ]
    assert httpx.get(f"{live.url}{SCIM}/Me", headers=person.headers()).status_code == 200


def test_roles_flow_down_at_most_max_nesting_levels(people: People) -> None:
    """A chain of groups: a role MAX_NESTING groups up reaches the user, one more level up does not."""
    user = people.user()
    chain: list[dict[str, Any]] = [people.group(user["id"])]
    for _ in range(MAX_NESTING):
        chain.append(people.group(chain[-1]["id"]))
    _assign(people, "Reader", chain[MAX_NESTING]["id"])  # MAX_NESTING + 1 levels up: too far
    assert _effective(people, user["id"]) == []
    _assign(people, "Editor", chain[MAX_NESTING - 1]["id"])  # MAX_NESTING levels up: reached
    assert _effective(people, user["id"]) == ["Editor"]
