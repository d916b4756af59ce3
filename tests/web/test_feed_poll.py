"""``GET /openapi/v1/events/poll`` on the live server, both engines: envelope, errors, long polls."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveServer, scimhub
from tests.integration.test_scim_http import unique
from tests.web.conftest import People

POLL = "/openapi/v1/events/poll"


def poll(live: LiveServer, token: str | None = None, path: str = POLL, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or live.token}"} if token != "" else {}
    return httpx.get(live.url + path, params=params, headers=headers, timeout=90)


def decoded(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the EntityChangeEvents of a poll response, unwrapped as DataHub's event source does."""
    events = []
    for item in body["events"]:
        assert item["contentType"] == "application/json"
        platform = json.loads(item["value"])
        assert platform["name"] == "entityChangeEvent"
        events.append(json.loads(platform["payload"]["value"]))
    return events


def head(live: LiveServer, path: str = POLL) -> str:
    """Return the offset a new consumer starts at."""
    response = poll(live, path=path, topic="PlatformEvent_v1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 0 and body["events"] == []
    offset: str = body["offsetId"]
    return offset


def created(scim: httpx.Client, user_name: str) -> None:
    response = scim.post("/Users", json={"userName": user_name})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", [POLL, "/gms" + POLL])
def test_a_change_is_polled_in_datahubs_envelope(live: LiveServer, people: People, path: str) -> None:
    """A new consumer gets no old events; the next change comes as a PlatformEvent-wrapped ECE."""
    offset = head(live, path)
    name = unique("polled")
    created(people.scim, name)
    response = poll(live, path=path, topic="PlatformEvent_v1", offsetId=offset, limit=100)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"offsetId", "count", "events"} and body["count"] == len(body["events"])
    mine = [e for e in decoded(body) if e["entityUrn"] == f"urn:li:corpuser:{name}"]
    assert mine == [
        {
            "entityType": "corpuser",
            "entityUrn": f"urn:li:corpuser:{name}",
            "category": "LIFECYCLE",
            "operation": "CREATE",
            "auditStamp": {"actor": "urn:li:corpuser:admin", "time": mine[0]["auditStamp"]["time"]},
            "version": 0,
        }
    ]
    again = poll(live, path=path, offsetId=body["offsetId"]).json()
    assert [e["entityUrn"] for e in decoded(again)].count(f"urn:li:corpuser:{name}") == 0


def test_a_long_poll_answers_when_an_event_commits(live: LiveServer, people: People) -> None:
    """A poll with pollTimeoutSeconds waits for the next commit and returns it, not an empty page."""
    offset = head(live)
    name = unique("awaited")
    writer = threading.Timer(0.5, created, args=(people.scim, name))
    writer.start()
    body = poll(live, offsetId=offset, pollTimeoutSeconds=30).json()
    # The poll answers at the commit, maybe before the POST's own response has arrived: wait for
    # it, or it would still be reading on the shared client while the next test uses it.
    writer.join()
    assert f"urn:li:corpuser:{name}" in [e["entityUrn"] for e in decoded(body)]


def test_a_long_poll_hears_another_process(live: LiveServer, people: People) -> None:
    """A change made by the CLI (another process) wakes the poll: NOTIFY, or SQLite's fallback check."""
    name = unique("cli")
    created(people.scim, name)
    offset = head(live)
    assign = ("role", "assign", "--role", "Editor", "--user", name)
    writer = threading.Thread(target=scimhub, args=assign, kwargs={"database_url": live.database_url})
    threading.Timer(0.5, writer.start).start()
    body = poll(live, offsetId=offset, pollTimeoutSeconds=30).json()
    writer.join()
    assert ("urn:li:corpuser:" + name, "ROLE_MEMBERSHIP") in [
        (e["entityUrn"], e["category"]) for e in decoded(body)
    ]


def test_a_long_poll_with_nothing_to_say_ends_at_its_timeout(live: LiveServer) -> None:
    """With no commit, the poll answers an empty page at the same offset."""
    offset = head(live)
    body = poll(live, offsetId=offset, pollTimeoutSeconds=1).json()
    if body["count"] == 0:  # another test's write may land meanwhile; then it must be delivered
        assert body["offsetId"] == offset


def test_polling_needs_a_token_and_the_privilege(live: LiveServer, people: People) -> None:
    """No token: 401 with a Bearer challenge; a Reader's token: 403 naming GET_PLATFORM_EVENTS."""
    response = poll(live, token="")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    reader = people.person("Reader")
    response = poll(live, token=reader.token)
    assert response.status_code == 403 and "GET_PLATFORM_EVENTS" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"topic": "MetadataChangeLog_Versioned_v1"}, "topic"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"pollTimeoutSeconds": "3600"}, "pollTimeoutSeconds"),
        ({"lookbackWindowDays": "x"}, "lookbackWindowDays"),
        ({"offsetId": "not-an-offset"}, "offsetId"),
    ],
)
def test_bad_parameters_are_a_400_that_says_why(live: LiveServer, params: dict[str, str], named: str) -> None:
    """An unknown topic, an out-of-range number or a malformed offset: 400 naming it, never a restart."""
    response = poll(live, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and named in body["detail"]
