"""Personal access tokens through the API: create, list, inspect, revoke, and refused input."""

from __future__ import annotations

import time

import httpx
import pytest

from scimhub.domain.tokens import MAX_DESCRIPTION, MAX_NAME
from tests.integration.conftest import LiveServer
from tests.integration.test_scim_http import unique
from tests.web.conftest import People, assert_api_error, documented

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

LIMITS = f"a token's name is at most {MAX_NAME} characters, its description {MAX_DESCRIPTION}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_create_returns_the_token_once_with_datahub_metadata(api: httpx.Client, bare: httpx.Client) -> None:
    """POST /tokens answers 201 with accessToken and DataHub's AccessTokenMetadata, times in epoch ms."""
    before = now_ms()
    response = api.post(
        "/tokens", json={"type": "PERSONAL", "name": "ci", "description": "for CI", "duration": "ONE_HOUR"}
    )
    documented("POST", "/tokens", response)
    assert response.status_code == 201
    body = response.json()
    metadata = body["metadata"]
    assert response.headers["location"] == f"/api/v1/tokens/{metadata['id']}"
    assert metadata["name"] == "ci" and metadata["description"] == "for CI" and metadata["type"] == "PERSONAL"
    assert metadata["actorUrn"] == metadata["ownerUrn"] == "urn:li:corpuser:admin"
    assert before - 1000 <= metadata["createdAt"] <= now_ms() + 1000
    assert metadata["expiresAt"] == metadata["createdAt"] + HOUR_MS
    assert metadata["lastUsedAt"] is None
    me = bare.get("/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200 and me.json()["userName"] == "admin"
    listed = api.get(f"/tokens/{metadata['id']}").json()
    assert "accessToken" not in listed and body["accessToken"] not in str(listed)


def test_durations_default_to_one_month_and_no_expiry_means_null(api: httpx.Client) -> None:
    """Without a duration a token lasts ONE_MONTH (30 days); NO_EXPIRY has expiresAt null."""
    default = api.post("/tokens", json={"name": "default"}).json()["metadata"]
    assert default["expiresAt"] - default["createdAt"] == 30 * DAY_MS
    forever = api.post("/tokens", json={"name": "entra", "duration": "NO_EXPIRY"}).json()["metadata"]
    assert forever["expiresAt"] is None


def test_current_describes_the_token_of_the_request(bare: httpx.Client, people: People) -> None:
    """GET /tokens/current shows the caller's token metadata, touched by its use."""
    person = people.person("Reader")
    response = bare.get("/tokens/current", headers=person.headers())
    documented("GET", "/tokens/current", response)
    body = response.json()
    assert body["id"] == person.token_id and body["actorUrn"] == person.urn
    assert body["ownerUrn"] == "urn:li:corpuser:admin"
    assert body["lastUsedAt"] is not None


def test_a_user_lists_only_the_tokens_acting_as_it(
    bare: httpx.Client, api: httpx.Client, people: People
) -> None:
    """Without MANAGE_ACCESS_TOKENS the list holds one's own tokens; an administrator sees all, or filters."""
    editor, other = people.person("Editor"), people.person("Editor")
    own = bare.get("/tokens", headers=editor.headers())
    documented("GET", "/tokens", own)
    assert [t["id"] for t in own.json()["tokens"]] == [editor.token_id]
    assert own.json()["total"] == 1
    everyone = {t["id"] for t in api.get("/tokens").json()["tokens"]}
    assert {editor.token_id, other.token_id} <= everyone
    filtered = api.get("/tokens", params={"actorUrn": other.urn}).json()["tokens"]
    assert [t["id"] for t in filtered] == [other.token_id]
    assert api.get("/tokens", params={"actorUrn": "urn:li:corpuser:nobody-at-all"}).json() == {
        "total": 0,
        "tokens": [],
    }
    refused = bare.get("/tokens", params={"actorUrn": other.urn}, headers=editor.headers())
    assert "MANAGE_ACCESS_TOKENS" in assert_api_error(refused, 403, "forbidden")["detail"]
    mine = bare.get("/tokens", params={"actorUrn": editor.urn}, headers=editor.headers())
    assert [t["id"] for t in mine.json()["tokens"]] == [editor.token_id]


def test_revoking_bites_on_the_next_request(bare: httpx.Client, people: People) -> None:
    """DELETE /tokens/{id} answers 204; the token is refused at once; a second revoke is 404."""
    person = people.person("Editor")
    response = bare.delete(f"/tokens/{person.token_id}", headers=person.headers())
    documented("DELETE", "/tokens/{id}", response)
    assert response.status_code == 204 and response.content == b""
    refused = bare.get("/me", headers=person.headers())
    assert_api_error(refused, 401, "unauthorized", "the bearer token has been revoked")
    again = people.api.delete(f"/tokens/{person.token_id}")
    assert_api_error(again, 404, "notFound", f"token {person.token_id} was already revoked")


def test_another_users_token_needs_manage_access_tokens(bare: httpx.Client, people: People) -> None:
    """An Editor can neither read nor revoke someone else's token; the administrator can."""
    editor, victim = people.person("Editor"), people.person("Editor")
    for response in (
        bare.get(f"/tokens/{victim.token_id}", headers=editor.headers()),
        bare.delete(f"/tokens/{victim.token_id}", headers=editor.headers()),
    ):
        assert "MANAGE_ACCESS_TOKENS" in assert_api_error(response, 403, "forbidden")["detail"]
    assert bare.get("/me", headers=victim.headers()).status_code == 200
    assert people.api.delete(f"/tokens/{victim.token_id}").status_code == 204


def test_a_suspended_users_token_works_again_once_reactivated(bare: httpx.Client, people: People) -> None:
    """Suspending the user refuses its token at once; reactivating it restores the token."""
    person = people.person("Reader")
    for active, status in ((False, 401), (True, 200)):
        patched = people.patch(f"/Users/{person.id}", {"op": "replace", "path": "active", "value": active})
        assert patched.status_code == 200
        assert bare.get("/me", headers=person.headers()).status_code == status


def test_a_token_outlives_the_user_who_created_it(
    api: httpx.Client, bare: httpx.Client, people: People
) -> None:
    """Deleting the administrator who created another user's token keeps the token working, listed with
    no owner (ownerUrn null); the token of the administrator's own dies with them."""
    admin, entra = people.person("Admin"), people.user()
    entra_urn = f"urn:li:corpuser:{entra['userName']}"
    body = {"name": "entra", "actorUrn": entra_urn, "duration": "NO_EXPIRY"}
    created = bare.post("/tokens", json=body, headers=admin.headers())
    assert created.status_code == 201 and created.json()["metadata"]["ownerUrn"] == admin.urn
    token, token_id = created.json()["accessToken"], created.json()["metadata"]["id"]

    assert people.scim.delete(f"/Users/{admin.id}").status_code == 204

    me = bare.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["userName"] == entra["userName"]
    shown = api.get(f"/tokens/{token_id}")
    documented("GET", "/tokens/{id}", shown)
    assert shown.json()["actorUrn"] == entra_urn and shown.json()["ownerUrn"] is None
    listed = api.get("/tokens", params={"actorUrn": entra_urn})
    documented("GET", "/tokens", listed)
    assert [(t["id"], t["ownerUrn"]) for t in listed.json()["tokens"]] == [(token_id, None)]
    assert api.get(f"/tokens/{admin.token_id}").status_code == 404


def test_actor_urn_finds_a_renamed_user_by_the_urn_it_kept(
    api: httpx.Client, bare: httpx.Client, people: People
) -> None:
    """After a rename, the URN from creation creates and lists the user's tokens, never those of whoever
    holds the old userName now; the URN of the new userName names nobody (ADR 0008)."""
    renamed, other = people.user(), people.user()
    old_name, new_name = renamed["userName"], unique("renamed")
    kept_urn, new_urn = f"urn:li:corpuser:{old_name}", f"urn:li:corpuser:{new_name}"
    rename = {"op": "replace", "path": "userName", "value": new_name}
    assert people.patch(f"/Users/{renamed['id']}", rename).status_code == 200
    # A new person given the old userName is refused: the renamed user keeps the URN it makes.
    refused = people.scim.post("/Users", json={"userName": old_name})
    assert refused.status_code == 409 and kept_urn in refused.json()["detail"]
    # An existing user may take the old userName, with the URN it was created with.
    takeover = {"op": "replace", "path": "userName", "value": old_name}
    assert people.patch(f"/Users/{other['id']}", takeover).status_code == 200

    created = api.post("/tokens", json={"name": "kept", "actorUrn": kept_urn, "duration": "ONE_HOUR"})
    assert created.status_code == 201, created.text
    metadata = created.json()["metadata"]
    assert metadata["actorUrn"] == kept_urn
    me = bare.get("/me", headers={"Authorization": f"Bearer {created.json()['accessToken']}"}).json()
    assert (me["id"], me["userName"], me["urn"]) == (renamed["id"], new_name, kept_urn)
    listed = api.get("/tokens", params={"actorUrn": kept_urn}).json()["tokens"]
    assert [(t["id"], t["actorUrn"]) for t in listed] == [(metadata["id"], kept_urn)]
    others = api.get("/tokens", params={"actorUrn": f"urn:li:corpuser:{other['userName']}"}).json()
    assert metadata["id"] not in {t["id"] for t in others["tokens"]}

    missing = api.post("/tokens", json={"name": "new name", "actorUrn": new_urn})
    assert_api_error(missing, 404, "notFound", f"no user has the URN {new_urn}")
    assert api.get("/tokens", params={"actorUrn": new_urn}).json() == {"total": 0, "tokens": []}


@pytest.mark.parametrize(
    ("request_kwargs", "status", "kind", "detail"),
    [
        ({"content": b'{"name": '}, 400, "invalidSyntax", None),
        ({"content": b'["name"]'}, 400, "invalidSyntax", "the request body must be a JSON object"),
        (
            {"content": b"name=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            415,
            "unsupportedMediaType",
            None,
        ),
        ({"json": {"name": "x", "duration": "FOREVER"}}, 422, "invalidValue", None),
        ({"json": {"name": "x", "expires": "ONE_DAY"}}, 422, "invalidValue", None),
        ({"json": {"name": 42}}, 422, "invalidValue", "name has the wrong type: must be a string, not 42"),
        (
            {"json": {"description": "no name"}},
            422,
            "invalidValue",
            "the body lacks a required field: 'name'",
        ),
        (
            {"json": {"name": "  "}},
            422,
            "invalidValue",
            "name must be a text with a character other than white space, not '  '",
        ),
        ({"json": {"name": "x", "type": "SESSION"}}, 422, "invalidValue", None),
        ({"json": {"name": "x" * (MAX_NAME + 1)}}, 422, "invalidValue", LIMITS),  # as the console's
        ({"json": {"name": "x", "description": "x" * (MAX_DESCRIPTION + 1)}}, 422, "invalidValue", LIMITS),
        ({"json": {"name": "x", "actorUrn": "urn:li:corpGroup:admins"}}, 422, "invalidValue", None),
        ({"json": {"name": "x", "actorUrn": "urn:li:corpuser:nobody-at-all"}}, 404, "notFound", None),
        ({"content": b"x" * 2_000_000}, 413, "payloadTooLarge", None),
    ],
)
def test_bad_input_gets_a_precise_client_error(
    api: httpx.Client, request_kwargs: dict[str, object], status: int, kind: str, detail: str | None
) -> None:
    """Bad input is a 4xx with a JSON error naming the fault, never a 5xx."""
    response = api.post("/tokens", **request_kwargs)  # type: ignore[arg-type]
    assert_api_error(response, status, kind, detail)
    documented("POST", "/tokens", response)


def test_the_token_never_reaches_the_log(live: LiveServer, api: httpx.Client) -> None:
    """Creating and using a token through the API logs neither the token nor its body."""
    name = unique("logged")
    token = api.post("/tokens", json={"name": name}).json()["accessToken"]
    httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    log = live.log.read_text()
    assert '"path":"/api/v1/tokens"' in log
    assert token not in log and name not in log
