"""Hostile and malformed SCIM requests over HTTP, on SQLite and PostgreSQL (issue 11, item 3).

The fixed corpus of hostile_corpus.py, and fewer drawn requests than the in-process
tests send, go to the live server: no 5xx, no request without an answer within 10 s,
every error an RFC 7644 §3.12 Error whose ``status`` is the HTTP status. The corpus's
NUL characters and 3,000-character values must answer 400 on PostgreSQL too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.integration.conftest import SCIM, LiveServer
from tests.integration.hostile_corpus import Probe, check_answer, corpus, probes

TIMEOUT = 10.0
"""Seconds an answer may take; more counts as a hang."""


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    """Yield an admin client of the live server that gives up after ``TIMEOUT`` seconds."""
    headers = {"Authorization": f"Bearer {live.token}"}
    with httpx.Client(base_url=live.url + SCIM, headers=headers, timeout=TIMEOUT) as http:
        yield http


@pytest.fixture(scope="module")
def ids(client: httpx.Client) -> tuple[str, str]:
    """Return the ids of a user and a group for the probes' paths."""
    user = client.post("/Users", json={"userName": "hostile-live"})
    group = client.post("/Groups", json={"displayName": "hostile-live"})
    assert user.status_code == group.status_code == 201
    return user.json()["id"], group.json()["id"]


def _fault(client: httpx.Client, probe: Probe) -> str | None:
    try:
        response = client.request(
            probe.method, probe.path, params=probe.query or None, content=probe.body, headers=probe.headers()
        )
    except httpx.TimeoutException:
        return f"no answer within {TIMEOUT} s"
    return check_answer(response.status_code, response.content)


def test_corpus_gets_no_server_error(client: httpx.Client, ids: tuple[str, str]) -> None:
    """Every request of the fixed corpus is answered, in time, without 5xx, errors SCIM-shaped."""
    faults = {
        f"{probe.name}: {probe.method} {probe.path} {probe.query}"[:200]: fault
        for probe in corpus()
        if (fault := _fault(client, probe.at(*ids))) is not None
    }
    assert faults == {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(probe=probes())
def test_drawn_requests_get_no_server_error(client: httpx.Client, ids: tuple[str, str], probe: Probe) -> None:
    """Drawn searches, bodies, PATCH paths and filters are answered without 5xx, errors SCIM-shaped."""
    assert _fault(client, probe.at(*ids)) is None


def test_server_answers_after_the_corpus(client: httpx.Client, ids: tuple[str, str]) -> None:
    """After the hostile requests the server still serves a plain search (on its own under xdist too).

    A drawn PUT or PATCH that was valid may have renamed the user: it is searched by its name now.
    """
    name = client.get(f"/Users/{ids[0]}").json()["userName"]
    literal = json.dumps(name, ensure_ascii=False)  # a filter's string is a JSON string (RFC 7644 §3.4.2.2)
    found = client.get("/Users", params={"filter": f"userName eq {literal}"}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == ids[0]
