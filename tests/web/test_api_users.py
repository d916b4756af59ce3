"""Users, groups and ``/me`` through the API: read views, paging, and refused input."""

from __future__ import annotations

import httpx

from tests.integration.test_scim_http import unique
from tests.web.conftest import People, assert_api_error, documented


def test_a_user_shows_its_groups_status_and_roles(api: httpx.Client, people: People) -> None:
    """GET /users/{id}: identity, SUSPENDED for an inactive user, its groups and its roles."""
    user = people.user("Reader", displayName="Barbara Jensen", active=False)
    group = people.group(user["id"])
    response = api.get(f"/users/{user['id']}")
    documented("GET", "/users/{id}", response)
    body = response.json()
    assert body["id"] == user["id"] and body["urn"] == f"urn:li:corpuser:{user['userName']}"
    assert (body["displayName"], body["active"], body["status"]) == ("Barbara Jensen", False, "SUSPENDED")
    assert body["groups"] == [
        {
            "id": group["id"],
            "urn": f"urn:li:corpGroup:{group['displayName']}",
            "displayName": group["displayName"],
        }
    ]
    assert body["roles"]["effective"] == [{"role": "Reader", "urn": "urn:li:dataHubRole:Reader"}]


def test_users_are_paged_by_user_name(api: httpx.Client, people: People) -> None:
    """GET /users pages with start/count in userName order and counts every user."""
    everyone = api.get("/users", params={"count": "0"}).json()
    assert everyone["count"] == 0 and everyone["users"] == []
    tag = unique("page")
    for suffix in ("b", "a", "c"):
        people.user(userName=f"{tag}-{suffix}")
    listed = api.get("/users", params={"count": "1000"})
    documented("GET", "/users", listed)
    names = [u["userName"] for u in listed.json()["users"]]
    assert names == sorted(names, key=str.lower)
    start = names.index(f"{tag}-a")
    page = api.get("/users", params={"start": str(start + 1), "count": "2"}).json()
    assert [u["userName"] for u in page["users"]] == [f"{tag}-b", f"{tag}-c"]
    assert page["start"] == start + 1 and page["count"] == 2 and page["total"] == listed.json()["total"]


def test_groups_show_member_count_and_roles(api: httpx.Client, people: People) -> None:
    """GET /groups/{id} and GET /groups show each group's members counted and its roles."""
    users = [people.user() for _ in range(3)]
    group = people.group(*(u["id"] for u in users))
    api.put(f"/roles/Editor/groups/{group['id']}")
    response = api.get(f"/groups/{group['id']}")
    documented("GET", "/groups/{id}", response)
    shown = response.json()
    assert shown == {
        "id": group["id"],
        "urn": f"urn:li:corpGroup:{group['displayName']}",
        "displayName": group["displayName"],
        "externalId": None,
        "memberCount": 3,
        "roles": [{"role": "Editor", "urn": "urn:li:dataHubRole:Editor"}],
        "createdAt": shown["createdAt"],
        "lastModifiedAt": shown["lastModifiedAt"],
    }
    assert shown["createdAt"].endswith("Z") and shown["lastModifiedAt"] >= shown["createdAt"]
    listed = api.get("/groups", params={"count": "1000"})
    documented("GET", "/groups", listed)
    assert shown in listed.json()["groups"]


def test_me_shows_the_tokens_user_and_privileges(bare: httpx.Client, people: People) -> None:
    """GET /me is the token's user with its effective roles and their privileges."""
    editor = people.person("Editor")
    response = bare.get("/me", headers=editor.headers())
    documented("GET", "/me", response)
    body = response.json()
    assert body["id"] == editor.id and body["userName"] == editor.user_name
    assert body["privileges"] == [
        "GENERATE_PERSONAL_ACCESS_TOKENS",
        "MANAGE_DOMAINS",
        "MANAGE_GLOSSARIES",
        "MANAGE_TAGS",
    ]


def test_unknown_ids_are_404(api: httpx.Client) -> None:
    """A user or group id that names nothing is a JSON 404."""
    assert_api_error(api.get("/users/nobody"), 404, "notFound", "User nobody not found")
    assert_api_error(api.get("/groups/nothing"), 404, "notFound", "Group nothing not found")


def test_bad_paging_is_422(api: httpx.Client) -> None:
    """start and count must be whole numbers; anything else is 422 naming the parameter."""
    for params in ({"start": "-1"}, {"count": "ten"}, {"count": "²"}, {"start": "1e3"}):
        response = api.get("/users", params=params)
        body = assert_api_error(response, 422, "invalidValue")
        assert next(iter(params)) in body["detail"]
        documented("GET", "/users", response)


def test_unknown_paths_and_methods_are_json_errors(api: httpx.Client) -> None:
    """An unknown path below /api/v1 is a JSON 404; a wrong method a JSON 405 with Allow."""
    assert_api_error(api.get("/nothing/here"), 404, "notFound")
    response = api.patch("/tokens")
    assert_api_error(response, 405, "methodNotAllowed")
    assert response.headers["allow"] == "GET, POST"
