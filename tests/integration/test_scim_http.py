"""The SCIM core over HTTP against the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SCIM, LiveServer

SCIM_JSON = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_user(scim: httpx.Client, **attributes: Any) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": unique("user"),
        **attributes,
    }
    response = scim.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def new_group(scim: httpx.Client, **attributes: Any) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": unique("group"),
        **attributes,
    }
    response = scim.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def patch(scim: httpx.Client, url: str, *operations: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return scim.patch(url, json={"schemas": [PATCH_OP], "Operations": list(operations)}, **kwargs)


def assert_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type
    return body


def test_create_returns_the_resource_with_location_and_etag(scim: httpx.Client) -> None:
    """POST answers 201 with id, meta, a Location header and the ETag of meta.version."""
    response = scim.post("/Users", json={"userName": unique("bjensen"), "active": True})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["id"] and body["meta"]["resourceType"] == "User"
    assert response.headers["location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert response.headers["etag"] == body["meta"]["version"]
    assert body["groups"] == []


def test_a_user_round_trips_exactly_as_sent(scim: httpx.Client) -> None:
    """Every attribute comes back as it was sent: no reformatting, enterprise under its URN."""
    sent = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": unique("Test_User"),
        "active": True,
        "displayName": "Barbara J Jensen",
        "emails": [{"primary": True, "type": "work", "value": "Barbara@Example.COM"}],
        "phoneNumbers": [{"type": "mobile", "value": "55555555555"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
        },
    }
    created = scim.post("/Users", json=sent).json()
    fetched = scim.get(f"/Users/{created['id']}").json()
    for key in (
        "externalId",
        "userName",
        "active",
        "displayName",
        "emails",
        "phoneNumbers",
        "name",
        ENTERPRISE,
    ):
        assert fetched[key] == sent[key], key
    assert fetched["schemas"] == sent["schemas"]


def test_username_is_unique_case_insensitively(scim: httpx.Client) -> None:
    """A second userName differing only in case is refused with 409 uniqueness."""
    name = unique("Dup")
    new_user(scim, userName=name)
    assert_error(scim.post("/Users", json={"userName": name.upper()}), 409, "uniqueness")


def test_filter_by_username_ignores_case(scim: httpx.Client) -> None:
    """userName is caseExact=false, so an eq filter matches in any case."""
    user = new_user(scim)
    response = scim.get("/Users", params={"filter": f'userName eq "{user["userName"].upper()}"'})
    assert response.status_code == 200
    listed = response.json()
    assert listed["totalResults"] == 1 and listed["Resources"][0]["id"] == user["id"]


def test_test_connection_probe_finds_nothing_with_200(scim: httpx.Client) -> None:
    """Entra's probe (a random GUID userName) gets 200 and an empty ListResponse, never 404."""
    for path, attribute in (("/Users", "userName"), ("/Groups", "displayName")):
        response = scim.get(path, params={"filter": f'{attribute} eq "{uuid.uuid4()}"'})
        assert response.status_code == 200
        assert response.json() == {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0,
            "itemsPerPage": 0,
            "startIndex": 1,
            "Resources": [],
        }


def test_inactive_users_are_still_found(scim: httpx.Client) -> None:
    """A deactivated user is returned by GET and by filters (Entra's soft delete)."""
    user = new_user(scim, active=False)
    assert scim.get(f"/Users/{user['id']}").json()["active"] is False
    found = scim.get("/Users", params={"filter": f'userName eq "{user["userName"]}"'}).json()
    assert found["totalResults"] == 1


def test_patch_changes_attributes_and_bumps_the_version(scim: httpx.Client) -> None:
    """PATCH answers 200 with the resource; the version changes with the content."""
    user = new_user(scim, emails=[{"type": "work", "value": "old@example.com", "primary": True}])
    response = patch(
        scim,
        f"/Users/{user['id']}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        {"op": "replace", "path": "name.familyName", "value": "Jensen"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["emails"] == [{"type": "work", "value": "new@example.com", "primary": True}]
    assert body["name"] == {"familyName": "Jensen"}
    assert body["meta"]["version"] != user["meta"]["version"]


def test_a_patch_that_changes_nothing_keeps_the_version(scim: httpx.Client) -> None:
    """Re-sending the stored state writes nothing: the ETag stays (no churn for Entra's loop)."""
    user = new_user(scim, displayName="Same")
    response = patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "displayName", "value": "Same"})
    assert response.json()["meta"]["version"] == user["meta"]["version"]


def test_put_replaces_the_whole_resource(scim: httpx.Client) -> None:
    """PUT drops attributes the new body leaves out (RFC 7644 §3.5.1)."""
    user = new_user(scim, displayName="Before", title="Boss")
    response = scim.put(f"/Users/{user['id']}", json={"userName": user["userName"], "displayName": "After"})
    assert response.status_code == 200
    body = response.json()
    assert body["displayName"] == "After" and "title" not in body


def test_delete_is_for_good(scim: httpx.Client) -> None:
    """DELETE answers 204; then GET and a second DELETE answer 404."""
    user = new_user(scim)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert_error(scim.get(f"/Users/{user['id']}"), 404)
    assert_error(scim.delete(f"/Users/{user['id']}"), 404)


def test_if_match_and_if_none_match(scim: httpx.Client) -> None:
    """A stale If-Match gets 412 and changes nothing; a matching If-None-Match gets 304."""
    user = new_user(scim, displayName="v1")
    url = f"/Users/{user['id']}"
    etag = user["meta"]["version"]
    assert scim.get(url, headers={"If-None-Match": etag}).status_code == 304
    changed = patch(
        scim, url, {"op": "replace", "path": "displayName", "value": "v2"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200
    stale = patch(
        scim, url, {"op": "replace", "path": "displayName", "value": "v3"}, headers={"If-Match": etag}
    )
    assert_error(stale, 412)
    assert scim.get(url).json()["displayName"] == "v2"


def test_if_none_match_on_a_write(scim: httpx.Client) -> None:
    """If-None-Match on a write is a 412 when it names the current ETag or is ``*`` (RFC 9110 §13.1.2)."""
    user = new_user(scim, displayName="v1")
    url = f"/Users/{user['id']}"
    etag = user["meta"]["version"]
    replace = {"op": "replace", "path": "displayName", "value": "v2"}
    assert_error(patch(scim, url, replace, headers={"If-None-Match": "*"}), 412)
    assert_error(patch(scim, url, replace, headers={"If-None-Match": etag}), 412)
    assert_error(scim.delete(url, headers={"If-None-Match": "*"}), 412)
    assert scim.get(url).json()["displayName"] == "v1"
    twice = [("If-None-Match", 'W/"999"'), ("If-None-Match", etag)]  # one list (RFC 9110 §5.3)
    assert_error(patch(scim, url, replace, headers=twice), 412)
    assert_error(patch(scim, url, replace, headers=[("If-None-Match", "*")] * 2), 412)
    assert_error(patch(scim, url, replace, headers={"If-None-Match": f"*, {etag}"}), 400, "invalidValue")
    assert_error(patch(scim, url, replace, headers={"If-None-Match": "*,"}), 412)
    twice = [("If-Match", 'W/"999"'), ("If-Match", etag)]
    assert patch(scim, url, replace, headers=twice).status_code == 200
    assert patch(scim, url, replace, headers={"If-None-Match": 'W/"999"'}).status_code == 200
    assert scim.delete(url, headers={"If-None-Match": etag}).status_code == 204  # etag is stale now


def test_group_membership_is_patched_by_delta(scim: httpx.Client) -> None:
    """Members are added and removed by PATCH (204); the user's groups follow."""
    alice, bob = new_user(scim), new_user(scim)
    group = new_group(scim, members=[{"value": alice["id"]}])
    url = f"/Groups/{group['id']}"
    added = patch(scim, url, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": bob["id"]}]})
    assert added.status_code == 204
    removed = patch(scim, url, {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'})
    assert removed.status_code == 204
    members = scim.get(url).json()["members"]
    assert [m["value"] for m in members] == [bob["id"]]
    assert members[0]["type"] == "User" and members[0]["$ref"].endswith(f"/Users/{bob['id']}")
    assert [g["value"] for g in scim.get(f"/Users/{bob['id']}").json()["groups"]] == [group["id"]]
    assert scim.get(f"/Users/{alice['id']}").json()["groups"] == []


def test_excluded_members_are_not_returned(scim: httpx.Client) -> None:
    """excludedAttributes=members leaves members out of GET and of a filtered list."""
    user = new_user(scim)
    group = new_group(scim, members=[{"value": user["id"]}])
    fetched = scim.get(f"/Groups/{group['id']}", params={"excludedAttributes": "members"}).json()
    assert "members" not in fetched and fetched["displayName"] == group["displayName"]
    listed = scim.get(
        "/Groups",
        params={"excludedAttributes": "members", "filter": f'displayName eq "{group["displayName"]}"'},
    ).json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


def test_unknown_member_is_refused_and_nothing_is_written(scim: httpx.Client) -> None:
    """A PATCH naming a member that does not exist is 400 and leaves the group unchanged."""
    user = new_user(scim)
    group = new_group(scim)
    response = patch(
        scim,
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": user["id"]}, {"value": "no-such-id"}]},
    )
    assert_error(response, 400, "invalidValue")
    assert scim.get(f"/Groups/{group['id']}").json().get("members", []) == []


def test_paging_and_sorting(scim: httpx.Client) -> None:
    """startIndex/count page a sorted result; totalResults counts all matches."""
    tag = unique("page")
    for i in (3, 1, 2):
        new_user(scim, userName=f"{tag}-{i}", title=tag)
    params = {"filter": f'title eq "{tag}"', "sortBy": "userName", "count": "2"}
    first = scim.get("/Users", params=params).json()
    assert first["totalResults"] == 3 and first["itemsPerPage"] == 2 and first["startIndex"] == 1
    assert [r["userName"] for r in first["Resources"]] == [f"{tag}-1", f"{tag}-2"]
    second = scim.get("/Users", params={**params, "startIndex": "3"}).json()
    assert [r["userName"] for r in second["Resources"]] == [f"{tag}-3"]
    descending = scim.get("/Users", params={**params, "sortOrder": "descending"}).json()
    assert descending["Resources"][0]["userName"] == f"{tag}-3"


def test_post_search(scim: httpx.Client) -> None:
    """POST /Users/.search takes the parameters in a SearchRequest body."""
    user = new_user(scim)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": f'userName eq "{user["userName"]}"',
        "attributes": ["userName"],
    }
    listed = scim.post("/Users/.search", json=body).json()
    assert listed["Resources"] == [
        {"schemas": user["schemas"], "id": user["id"], "userName": user["userName"]}
    ]


def test_attributes_projection(scim: httpx.Client) -> None:
    """attributes= keeps id, schemas and the named attributes only."""
    user = new_user(scim, displayName="Shown", title="Hidden")
    body = scim.get(f"/Users/{user['id']}", params={"attributes": "displayName"}).json()
    assert set(body) == {"schemas", "id", "displayName"}


@pytest.mark.parametrize(
    ("request_kwargs", "status", "scim_type"),
    [
        ({"content": b'{"userName": ', "headers": {"content-type": SCIM_JSON}}, 400, "invalidSyntax"),
        ({"content": b"[1, 2]", "headers": {"content-type": SCIM_JSON}}, 400, "invalidSyntax"),
        (
            {"content": b"userName=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            415,
            None,
        ),
        ({"json": {"userName": 42}}, 400, "invalidValue"),
        ({"json": {"userName": "x", "adreses": []}}, 400, "invalidValue"),
        ({"json": {"displayName": "no userName"}}, 400, "invalidValue"),
        ({"json": {"userName": "x", "active": 10**30}}, 400, None),
        (
            {"content": b"[" * 100_000 + b"]" * 100_000, "headers": {"content-type": SCIM_JSON}},
            400,
            "invalidSyntax",
        ),
    ],
)
def test_malformed_bodies_get_precise_errors(
    scim: httpx.Client, request_kwargs: dict[str, Any], status: int, scim_type: str | None
) -> None:
    """Bad input answers 4xx with an RFC 7644 Error, never a 5xx."""
    response = scim.post("/Users", **request_kwargs)
    assert response.status_code == status, response.text
    if scim_type is not None:
        assert_error(response, status, scim_type)


def test_a_content_type_sent_on_two_lines(scim: httpx.Client) -> None:
    """Each line of a repeated Content-Type must name JSON: the same line twice is a JSON body."""
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": unique("twice")}
    twice = [("Content-Type", SCIM_JSON), ("Content-Type", "application/json")]
    assert scim.post("/Users", json=body, headers=twice).status_code == 201
    mixed = [("Content-Type", SCIM_JSON), ("Content-Type", "text/plain")]
    assert_error(scim.post("/Users", json=body, headers=mixed), 415)
    for quoted in (f'{SCIM_JSON}; profile="a,b"', f"{SCIM_JSON},"):  # a quoted comma; an empty element
        body["userName"] = unique("quoted")
        assert scim.post("/Users", json=body, headers={"Content-Type": quoted}).status_code == 201


def test_a_bad_filter_is_invalid_filter(scim: httpx.Client) -> None:
    """A filter that does not parse or names nothing is 400 invalidFilter."""
    for text in ('userName eq "unterminated', "nosuch eq 1", 'userName zz "x"', "(userName pr"):
        assert_error(scim.get("/Users", params={"filter": text}), 400, "invalidFilter")


def test_unknown_paths_and_methods(scim: httpx.Client) -> None:
    """Unknown endpoints are SCIM 404s; a known path with a wrong method is a SCIM 405 with Allow."""
    assert_error(scim.get("/Nothing"), 404)
    response = scim.post("/Users/some-id", json={})
    assert_error(response, 405)
    assert "PATCH" in response.headers["allow"]


def test_a_body_over_the_limit_is_413(scim: httpx.Client) -> None:
    """A request body larger than the configured limit is refused with 413, unread."""
    assert_error(scim.post("/Users", content=b"x" * 2_000_000, headers={"content-type": SCIM_JSON}), 413)


def test_requests_need_a_valid_token(live: LiveServer) -> None:
    """No token, another scheme or a forged token: 401 with WWW-Authenticate: Bearer."""
    for headers in ({}, {"Authorization": "Basic YWRtaW46YWRtaW4="}, {"Authorization": "Bearer not.a.jwt"}):
        response = httpx.get(f"{live.url}/scim/v2/Users", headers=headers)
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_both_base_paths_serve_scim(live: LiveServer) -> None:
    """The seed's Tenant URL path and the /scim/v2 alias answer alike."""
    for base in ("/gms/openapi/scim/v2", "/scim/v2"):
        with live.client(base=base) as client:
            response = client.get("/ServiceProviderConfig")
            assert response.status_code == 200
            assert response.json()["patch"]["supported"] is True


def test_discovery_endpoints(scim: httpx.Client) -> None:
    """/Schemas and /ResourceTypes list what the server serves, by id too."""
    schemas = scim.get("/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE} <= ids
    user_schema = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert any(a["name"] == "userName" and a["uniqueness"] == "server" for a in user_schema["attributes"])
    types = scim.get("/ResourceTypes").json()
    assert [t["endpoint"] for t in types["Resources"]] == ["/Users", "/Groups"]
    assert scim.get("/ResourceTypes/Group").json()["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_health_endpoints(live: LiveServer) -> None:
    """/healthz and /readyz answer 200 without a token."""
    assert httpx.get(f"{live.url}/healthz").status_code == 200
    assert httpx.get(f"{live.url}/readyz").json() == {"status": "ok", "database": "ok"}


def test_the_log_never_carries_the_token(live: LiveServer, scim: httpx.Client) -> None:
    """The access log has a line per request and never the bearer token."""
    scim.get("/Users", params={"count": "1"})
    log = live.log.read_text()
    assert '"path":"/scim/v2/Users"' in log
    assert live.token not in log


def test_case_insensitive_filters_fold_non_ascii_letters(scim: httpx.Client) -> None:
    """displayName (caseExact false) matches across case beyond ASCII, on both engines alike."""
    tag = unique("tag")
    user = new_user(scim, displayName=f"Élodie Ærøskøbing {tag}")
    response = scim.get("/Users", params={"filter": f'displayName eq "élodie ærøskøbing {tag.upper()}"'})
    assert [r["id"] for r in response.json()["Resources"]] == [user["id"]]


def test_two_host_lines_are_refused(live: LiveServer) -> None:
    """RFC 9112 §3.2: a request with two Host lines is a 400; meta.location is built from Host."""
    host, port = live.url.removeprefix("http://").split(":")
    request = (
        f"GET {SCIM}/Users?count=1 HTTP/1.1\r\nHost: evil.example\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {live.token}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"more than one Host line" in body
