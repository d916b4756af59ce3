"""Roles through the API: listing, holders, assignments, and effective roles as groups change."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import People, assert_api_error, documented


def roles_of(api: httpx.Client, user_id: str) -> dict[str, Any]:
    response = api.get(f"/users/{user_id}")
    assert response.status_code == 200, response.text
    documented("GET", "/users/{id}", response)
    roles: dict[str, Any] = response.json()["roles"]
    return roles


def effective(api: httpx.Client, user_id: str) -> list[str]:
    return [r["role"] for r in roles_of(api, user_id)["effective"]]


def give(api: httpx.Client, role: str, group_id: str) -> None:
    response = api.put(f"/roles/{role}/groups/{group_id}")
    assert response.status_code == 200, response.text
    documented("PUT", "/roles/{name}/groups/{groupId}", response)


def test_the_roles_are_listed_with_their_privileges(api: httpx.Client) -> None:
    """GET /roles lists Admin, Editor, Reader with DataHub's URNs and privileges, highest first."""
    response = api.get("/roles")
    documented("GET", "/roles", response)
    roles = {r["name"]: r for r in response.json()["roles"]}
    assert list(roles) == ["Admin", "Editor", "Reader"]
    assert roles["Admin"]["urn"] == "urn:li:dataHubRole:Admin"
    assert {"MANAGE_USERS_AND_GROUPS", "MANAGE_ACCESS_TOKENS", "MANAGE_POLICIES"} <= set(
        roles["Admin"]["privileges"]
    )
    assert roles["Editor"]["privileges"] == [
        "GENERATE_PERSONAL_ACCESS_TOKENS",
        "MANAGE_DOMAINS",
        "MANAGE_GLOSSARIES",
        "MANAGE_TAGS",
    ]
    assert roles["Reader"]["privileges"] == []


def test_direct_roles_say_where_they_come_from(api: httpx.Client, people: People) -> None:
    """A provisioned role and an assigned one are both direct, each with its source."""
    user = people.user("Reader")
    assert api.put(f"/roles/editor/users/{user['id']}").json()["changed"] is True
    roles = roles_of(api, user["id"])
    assert sorted((r["role"], r["source"]) for r in roles["direct"]) == [
        ("Editor", "assigned"),
        ("Reader", "provisioned"),
    ]
    assert roles["inherited"] == []
    assert [r["role"] for r in roles["effective"]] == ["Editor", "Reader"]


def test_a_group_role_is_inherited_by_its_members(api: httpx.Client, people: People) -> None:
    """A member holds the group's role, inherited, naming the group."""
    user = people.user()
    group = people.group(user["id"])
    give(api, "Admin", group["id"])
    roles = roles_of(api, user["id"])
    assert roles["direct"] == []
    assert roles["inherited"] == [
        {
            "role": "Admin",
            "urn": "urn:li:dataHubRole:Admin",
            "group": {
                "id": group["id"],
                "urn": f"urn:li:corpGroup:{group['displayName']}",
                "displayName": group["displayName"],
            },
        }
    ]
    assert roles["effective"] == [{"role": "Admin", "urn": "urn:li:dataHubRole:Admin"}]


def test_roles_of_several_groups_are_united(api: httpx.Client, people: People) -> None:
    """Roles from every group add up with the direct ones; a role held twice is effective once."""
    user = people.user("Reader")
    editors, admins, more_editors = (
        people.group(user["id"]),
        people.group(user["id"]),
        people.group(user["id"]),
    )
    give(api, "Editor", editors["id"])
    give(api, "Admin", admins["id"])
    give(api, "Editor", more_editors["id"])
    roles = roles_of(api, user["id"])
    inherited = sorted((r["role"], r["group"]["id"]) for r in roles["inherited"])
    assert inherited == sorted(
        [("Editor", editors["id"]), ("Admin", admins["id"]), ("Editor", more_editors["id"])]
    )
    assert [r["role"] for r in roles["effective"]] == ["Admin", "Editor", "Reader"]


def test_leaving_a_group_drops_its_roles(api: httpx.Client, people: People) -> None:
    """After a SCIM PATCH removes the member, the group's role is gone; other groups' roles stay."""
    user = people.user()
    admins, editors = people.group(user["id"]), people.group(user["id"])
    give(api, "Admin", admins["id"])
    give(api, "Editor", editors["id"])
    removed = people.patch(
        f"/Groups/{admins['id']}", {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
    )
    assert removed.status_code == 204, removed.text
    assert effective(api, user["id"]) == ["Editor"]


def test_deleting_a_group_drops_its_roles(api: httpx.Client, people: People) -> None:
    """After the group is deleted over SCIM, its members no longer hold its role."""
    user = people.user("Reader")
    group = people.group(user["id"])
    give(api, "Admin", group["id"])
    assert effective(api, user["id"]) == ["Admin", "Reader"]
    assert people.scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert effective(api, user["id"]) == ["Reader"]
    assert roles_of(api, user["id"])["inherited"] == []


def test_privileges_follow_group_roles_on_the_next_request(
    bare: httpx.Client, api: httpx.Client, people: People
) -> None:
    """A Reader's token lists users once a group gives it Admin, and no longer once it leaves."""
    reader = people.person("Reader")
    group = people.group()
    give(api, "Admin", group["id"])
    headers = reader.headers()
    assert bare.get("/users", headers=headers).status_code == 403
    people.patch(f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": reader.id}]})
    assert bare.get("/users", headers=headers).status_code == 200
    me = bare.get("/me", headers=headers).json()
    assert "MANAGE_USERS_AND_GROUPS" in me["privileges"] and me["roles"]["effective"][0]["role"] == "Admin"
    people.patch(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
    assert bare.get("/users", headers=headers).status_code == 403
    assert bare.get("/me", headers=headers).json()["privileges"] == []


def test_members_of_a_role_are_its_direct_holders(api: httpx.Client, people: People) -> None:
    """GET /roles/{name}/members lists users (with source) and groups holding the role directly."""
    provisioned, assigned = people.user("Editor"), people.user()
    group = people.group(assigned["id"])
    api.put(f"/roles/Editor/users/{assigned['id']}")
    give(api, "Editor", group["id"])
    response = api.get("/roles/EDITOR/members")
    documented("GET", "/roles/{name}/members", response)
    body = response.json()
    users = {(u["id"], u["source"]) for u in body["users"]}
    assert {(provisioned["id"], "provisioned"), (assigned["id"], "assigned")} <= users
    holder = next(u for u in body["users"] if u["id"] == provisioned["id"])
    assert holder == {
        "id": provisioned["id"],
        "urn": f"urn:li:corpuser:{provisioned['userName']}",
        "userName": provisioned["userName"],
        "source": "provisioned",
    }
    assert group["id"] in {g["id"] for g in body["groups"]}
    assert body["role"]["urn"] == "urn:li:dataHubRole:Editor"


def test_a_renamed_holder_keeps_its_urn(api: httpx.Client, people: People) -> None:
    """After a userName change, GET /roles/{name}/members names the user by the URN it was created with."""
    user = people.user("Reader")
    new_name = "renamed-" + user["userName"]
    renamed = people.patch(f"/Users/{user['id']}", {"op": "replace", "path": "userName", "value": new_name})
    assert renamed.status_code == 200, renamed.text
    holders = api.get("/roles/Reader/members").json()["users"]
    holder = next(u for u in holders if u["id"] == user["id"])
    assert (holder["userName"], holder["urn"]) == (new_name, f"urn:li:corpuser:{user['userName']}")


def test_assignments_are_idempotent_and_unassign_keeps_provisioned_roles(
    api: httpx.Client, people: People
) -> None:
    """PUT twice changes once; DELETE removes the assignment but never a role the IdP provisioned."""
    user = people.user("Admin")
    url = f"/roles/Admin/users/{user['id']}"
    first, second = api.put(url), api.put(url)
    assert (first.json()["changed"], second.json()["changed"]) == (True, False)
    assert first.json() == {
        "role": "Admin",
        "roleUrn": "urn:li:dataHubRole:Admin",
        "principal": {"type": "user", "id": user["id"]},
        "changed": True,
    }
    removed = api.delete(url)
    documented("DELETE", "/roles/{name}/users/{userId}", removed)
    assert removed.json()["changed"] is True
    assert api.delete(url).json()["changed"] is False
    assert roles_of(api, user["id"])["direct"] == [
        {"role": "Admin", "urn": "urn:li:dataHubRole:Admin", "source": "provisioned"}
    ]


def test_a_group_assignment_is_removed(api: httpx.Client, people: People) -> None:
    """DELETE /roles/{name}/groups/{id} takes the role from the group and so from its members."""
    user = people.user()
    group = people.group(user["id"])
    give(api, "Editor", group["id"])
    response = api.delete(f"/roles/Editor/groups/{group['id']}")
    documented("DELETE", "/roles/{name}/groups/{groupId}", response)
    assert response.json()["changed"] is True
    assert effective(api, user["id"]) == []


def test_an_unknown_role_is_404_naming_the_roles(api: httpx.Client, people: People) -> None:
    """A role that is not one of the three is 404, and the detail lists the allowed roles."""
    user = people.user()
    for response in (api.get("/roles/Owner/members"), api.put(f"/roles/Owner/users/{user['id']}")):
        assert_api_error(
            response, 404, "notFound", "no role is called 'Owner'; the roles are Admin, Editor, Reader"
        )


def test_assigning_to_nobody_is_404(api: httpx.Client) -> None:
    """An unknown user or group id is 404, and nothing is written."""
    assert_api_error(
        api.put("/roles/Admin/users/no-such-user"), 404, "notFound", "User no-such-user not found"
    )
    assert_api_error(
        api.put("/roles/Admin/groups/no-such-group"), 404, "notFound", "Group no-such-group not found"
    )
