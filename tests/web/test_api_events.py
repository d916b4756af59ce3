"""``GET /api/v1/events``: the audit view of the change events, filtered, paged, and as documented."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from scimhub.feed.offsets import MAX_SEQ, encode_offset
from tests.integration.conftest import LiveServer
from tests.web.conftest import People, assert_api_error, documented
from tests.web.test_feed_poll import POLL


def search(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/events", params=params)
    assert response.status_code == 200, response.text
    documented("GET", "/events", response)
    body: dict[str, Any] = response.json()
    return body


def test_events_are_filtered_by_entity_actor_and_category(api: httpx.Client, people: People) -> None:
    """entity, actor and category narrow the audit; each item is the feed's ECE, with its offset."""
    user = people.user("Editor")
    urn = f"urn:li:corpuser:{user['userName']}"
    body = search(api, entity=urn)
    assert [(e["category"], e["operation"]) for e in body["events"]] == [
        ("ROLE_MEMBERSHIP", "ADD"),
        ("LIFECYCLE", "CREATE"),
    ]
    assert all(
        e["auditStamp"]["actor"] == "urn:li:corpuser:admin" and e["version"] == 0 for e in body["events"]
    )
    only_roles = search(api, entity=urn, category="ROLE_MEMBERSHIP", actor="urn:li:corpuser:admin")
    assert [e["modifier"] for e in only_roles["events"]] == ["urn:li:dataHubRole:Editor"]
    assert search(api, entity=urn, actor="urn:li:corpuser:nobody")["events"] == []


def test_events_are_filtered_by_time(api: httpx.Client, people: People) -> None:
    """since is inclusive, until exclusive, both ISO 8601; nothing lies in the future."""
    urn = f"urn:li:corpuser:{people.user()['userName']}"
    assert len(search(api, entity=urn, since="2000-01-01T00:00:00Z")["events"]) == 1
    assert search(api, entity=urn, since="2999-01-01")["events"] == []
    assert search(api, entity=urn, until="2000-01-01T00:00:00+00:00")["events"] == []


def test_pages_continue_with_next_and_offsets_work_with_the_poll_api(
    api: httpx.Client, people: People, live: LiveServer
) -> None:
    """``next`` pages back through older events; an event's offsetId polls the events after it."""
    first, second = people.user(), people.user()
    newest = search(api, limit=1)
    assert len(newest["events"]) == 1 and newest["next"]
    older = search(api, limit=1, before=newest["next"])
    assert older["events"][0]["offsetId"] != newest["events"][0]["offsetId"]
    created = search(api, entity=f"urn:li:corpuser:{first['userName']}")["events"][0]
    polled = httpx.get(
        live.url + POLL,
        params={"offsetId": created["offsetId"]},
        headers={"Authorization": f"Bearer {live.token}"},
    ).json()
    assert polled["count"] >= 1
    following = search(api, after=created["offsetId"], entity=f"urn:li:corpuser:{second['userName']}")
    assert [e["operation"] for e in following["events"]] == ["CREATE"]


def test_before_with_after_is_the_window_between_them(api: httpx.Client, people: People) -> None:
    """after and before together: the events strictly between the two offsets, oldest first."""
    people.user(), people.user(), people.user()
    newest = search(api, limit=4)["events"]  # newest first: e3, e2, e1, e0
    between = search(api, after=newest[3]["offsetId"], before=newest[0]["offsetId"])
    assert [e["offsetId"] for e in between["events"]] == [newest[2]["offsetId"], newest[1]["offsetId"]]


def test_the_audit_needs_get_platform_events(live: LiveServer, people: People) -> None:
    """A token without GET_PLATFORM_EVENTS is refused with 403."""
    reader = people.person("Reader")
    response = httpx.get(live.url + "/api/v1/events", headers=reader.headers())
    assert_api_error(response, 403, "forbidden")


def test_bad_filters_are_refused(api: httpx.Client) -> None:
    """An unknown category, a malformed or empty time, cursor or URN: 422 naming the fault.

    A cursor of this feed whose ``seq`` no 64-bit integer holds is as malformed as any other.
    """
    stream = base64.urlsafe_b64decode(search(api, limit=1)["next"] + "==").decode().split(":")[1]
    for params, named in (
        ({"category": "TAG"}, "category"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"before": "junk"}, "offsetId"),
        ({"after": encode_offset(stream, MAX_SEQ + 1)}, "offsetId"),  # was a 500 (session 40)
        ({"before": encode_offset(stream, MAX_SEQ + 1)}, "offsetId"),
        ({"before": "a/b"}, "before"),
        ({"until": ""}, "until"),
        ({"entity": ""}, "entity"),
    ):
        body = assert_api_error(api.get("/events", params=params), 422, "invalidValue")
        assert named in body["detail"]
