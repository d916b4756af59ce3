"""SCIM ``/Me`` (RFC 7644 §3.11): the authenticated user, read with any token, written as /Users/{id} is.

ADR 0039: PUT, PATCH and DELETE of /Me need MANAGE_USERS_AND_GROUPS, as the same
request on /Users/{id} does, so that no user grants itself a role through /Me.
"""

from __future__ import annotations

import httpx

from tests.integration.conftest import SCIM, LiveServer
from tests.integration.test_scim_http import PATCH_OP
from tests.web.conftest import People


def test_me_is_the_tokens_user(live: LiveServer, people: People) -> None:
    """GET /Me answers the caller's User, with meta.location at /Users/{id} and its ETag."""
    reader = people.person("Reader")
    response = httpx.get(f"{live.url}{SCIM}/Me", headers=reader.headers())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["id"] == reader.id and body["userName"] == reader.user_name
    assert body["meta"]["location"] == f"{live.url}{SCIM}/Users/{reader.id}"
    assert response.headers["etag"] == body["meta"]["version"]
    assert body["roles"] == [{"value": "Reader"}]


def test_me_takes_the_projection_and_conditions_of_a_get(live: LiveServer, people: People) -> None:
    """attributes= projects /Me; If-None-Match with its ETag answers 304."""
    person = people.person("Editor")
    url = f"{live.url}{SCIM}/Me"
    projected = httpx.get(url, params={"attributes": "userName"}, headers=person.headers()).json()
    assert set(projected) == {"schemas", "id", "userName"}
    etag = httpx.get(url, headers=person.headers()).headers["etag"]
    assert httpx.get(url, headers={**person.headers(), "If-None-Match": etag}).status_code == 304


def test_me_cannot_be_written_without_the_provisioning_privilege(live: LiveServer, people: People) -> None:
    """A Reader's PUT, PATCH and DELETE of /Me are 403 naming the privilege; nothing changes."""
    reader = people.person("Reader")
    url = f"{live.url}{SCIM}/Me"
    raise_role = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "roles", "value": [{"value": "Admin"}]}],
    }
    answers = [
        httpx.patch(url, json=raise_role, headers=reader.headers()),
        httpx.put(
            url, json={"userName": reader.user_name, "roles": [{"value": "Admin"}]}, headers=reader.headers()
        ),
        httpx.delete(url, headers=reader.headers()),
    ]
    for response in answers:
        assert response.status_code == 403, response.text
        assert "MANAGE_USERS_AND_GROUPS" in response.json()["detail"]
    assert httpx.get(url, headers=reader.headers()).json()["roles"] == [{"value": "Reader"}]


def test_me_is_patched_put_and_deleted_with_the_provisioning_privilege(
    live: LiveServer, people: People
) -> None:
    """An Admin's PATCH and PUT of /Me change its own User (200); DELETE /Me deletes it, tokens too."""
    admin = people.person("Admin")
    url = f"{live.url}{SCIM}/Me"
    operation = {"op": "replace", "path": "displayName", "value": "Patched Me"}
    patched = httpx.patch(
        url, json={"schemas": [PATCH_OP], "Operations": [operation]}, headers=admin.headers()
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == admin.id and patched.json()["displayName"] == "Patched Me"
    assert patched.json()["meta"]["location"] == f"{live.url}{SCIM}/Users/{admin.id}"
    body = {"userName": admin.user_name, "title": "Put Me", "roles": [{"value": "Admin"}]}
    put = httpx.put(url, json=body, headers={**admin.headers(), "If-Match": patched.headers["etag"]})
    assert put.status_code == 200, put.text
    assert put.json()["title"] == "Put Me" and "displayName" not in put.json()
    stale = httpx.put(url, json=body, headers={**admin.headers(), "If-Match": patched.headers["etag"]})
    assert stale.status_code == 412, stale.text
    deleted = httpx.delete(url, headers=admin.headers())
    assert deleted.status_code == 204, deleted.text
    with live.client(base=SCIM) as scim:
        assert scim.get(f"/Users/{admin.id}").status_code == 404
    assert httpx.get(url, headers=admin.headers()).status_code == 401  # its token went with it


def test_me_renames_itself_and_gives_up_its_role_in_one_write(live: LiveServer, people: People) -> None:
    """A write of one's own credential answers 200, and the token then holds what it wrote. On
    PostgreSQL it fails its own check at the commit, and passes the run again, whose check reads the
    credential apart from the write's own rows (ADR 0086)."""
    admin = people.person("Admin")
    url = f"{live.url}{SCIM}/Me"
    operations = [
        {"op": "replace", "path": "userName", "value": f"{admin.user_name}.renamed"},
        {"op": "remove", "path": "roles"},
    ]
    patch = {"schemas": [PATCH_OP], "Operations": operations}
    response = httpx.patch(url, json=patch, headers=admin.headers())
    assert response.status_code == 200, response.text
    assert response.json()["userName"] == f"{admin.user_name}.renamed" and "roles" not in response.json()
    me = httpx.get(url, headers=admin.headers())
    assert me.json()["userName"] == f"{admin.user_name}.renamed" and "roles" not in me.json()
    assert httpx.patch(url, json=patch, headers=admin.headers()).status_code == 403  # no longer an Admin


def test_me_refuses_bad_input_as_users_does(live: LiveServer, people: People) -> None:
    """A PATCH of /Me naming a readOnly attribute is 400 mutability, as on /Users/{id}; nothing changes."""
    admin = people.person("Admin")
    url = f"{live.url}{SCIM}/Me"
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": "someone-else"}}]}
    response = httpx.patch(url, json=body, headers=admin.headers())
    assert response.status_code == 400 and response.json()["scimType"] == "mutability", response.text
    assert f"'someone-else' is not this resource's id '{admin.id}'" in response.json()["detail"]
    assert httpx.get(url, headers=admin.headers()).json()["id"] == admin.id


def test_other_methods_on_me_are_405(live: LiveServer, people: People) -> None:
    """POST /Me is 405 naming the methods /Me takes; a Reader still cannot provision."""
    reader = people.person("Reader")
    response = httpx.post(f"{live.url}{SCIM}/Me", json={}, headers=reader.headers())
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET, PATCH, PUT"
    assert httpx.get(f"{live.url}{SCIM}/Users/{reader.id}", headers=reader.headers()).status_code == 403
