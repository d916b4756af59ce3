"""SCIM ``/Me`` (RFC 7644 §3.11): the authenticated user, for any valid token."""

from __future__ import annotations

import httpx

from tests.integration.conftest import SCIM, LiveServer
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


def test_me_can_only_be_read(live: LiveServer, people: People) -> None:
    """Other methods on /Me are 405 with Allow: GET; a Reader still cannot provision."""
    reader = people.person("Reader")
    response = httpx.delete(f"{live.url}{SCIM}/Me", headers=reader.headers())
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert httpx.get(f"{live.url}{SCIM}/Users/{reader.id}", headers=reader.headers()).status_code == 403
