"""Rate limits, failed-authentication throttling and /metrics on the real server, on both engines.

Each limit gets a server of its own with a low limit set through ``SCIMHUB_*``
(ADR 0023); the metrics are read with prometheus_client's own text parser
(ADR 0024), from the shared live server and from a server with two workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserRef
from scimhub.settings import Settings
from scimhub.store.sql.engine import make_engine
from scimhub.wiring import build
from tests.integration.conftest import SCIM, LiveServer, running_server

API = "/api/v1"
POLL = "/openapi/v1/events/poll"
FILTER = {"filter": 'userName eq "nobody-here"'}
LIMITS_OFF = {
    "SCIMHUB_RATE_LIMIT_PER_TOKEN": "0",
    "SCIMHUB_RATE_LIMIT_PER_ADDRESS": "0",
    "SCIMHUB_AUTH_FAILURE_LIMIT": "0",
}


def _server(
    database_url: str, directory: Path, env: dict[str, str]
) -> Iterator[tuple[LiveServer, list[str]]]:
    """Yield a server started with ``env`` on a fresh database, and three admin tokens made before it."""
    services = build(Settings(database_url=database_url))  # one process for the three, not three CLI runs
    try:
        services.accounts.ensure_admin("an admin password for the tests")
        tokens = [services.tokens.issue(SYSTEM, UserRef.by_name("admin"), f"t{i}")[0].token for i in range(3)]
    finally:
        services.close()
    with running_server(database_url, directory / "serve.log", {**LIMITS_OFF, **env}) as (process, url):
        yield LiveServer(url, database_url, tokens[0], directory / "serve.log"), tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape /metrics on a new connection; return every sample by name and labels."""
    response = httpx.get(url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _assert_scim_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "429"


def _assert_api_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["status"] == 429 and response.json()["error"] == "tooManyRequests"


@pytest.fixture
def token_limited(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str]]]:
    """A server allowing each token a burst of 5 and then 1 request per second."""
    env = {"SCIMHUB_RATE_LIMIT_PER_TOKEN": "1", "SCIMHUB_RATE_LIMIT_PER_TOKEN_BURST": "5"}
    yield from _server(database_url, tmp_path, env)


def _refused(send: Callable[[], httpx.Response], tries: int = 10) -> tuple[httpx.Response, int]:
    """Send until a request is refused; return the 429 and how many were sent.

    At 1 request per second a slow machine may earn a token back between two
    requests: a few more may pass, never ``tries``.
    """
    for sent in range(1, tries + 1):
        response = send()
        if response.status_code == 429:
            return response, sent
        assert response.status_code < 400, response.text
    raise AssertionError(f"{tries} requests in a row were served past the burst")


def test_a_token_past_its_burst_gets_429_with_retry_after_everywhere(
    token_limited: tuple[LiveServer, list[str]],
) -> None:
    """Five requests pass; then SCIM, the JSON API and the events poll refuse that token, not another one."""
    live, tokens = token_limited
    with httpx.Client(base_url=live.url, headers=_bearer(tokens[0]), timeout=30) as client:
        assert [client.get(SCIM + "/Users", params=FILTER).status_code for _ in range(5)] == [200] * 5
        refused, _ = _refused(lambda: client.get(SCIM + "/Users", params=FILTER))
        _assert_scim_429(refused)
        _assert_scim_429(_refused(lambda: client.get("/gms/openapi/scim/v2/Users", params=FILTER))[0])
        _assert_api_429(_refused(lambda: client.get(API + "/tokens"))[0])
        _assert_api_429(_refused(lambda: client.get(POLL))[0])
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        other = client.get(SCIM + "/Users", params=FILTER, headers=_bearer(tokens[1]))
        assert other.status_code == 200
        samples = _metrics(live.url)
        assert _value(samples, "scimhub_rate_limited_total", limit="token") == 4
        assert (
            _value(samples, "scimhub_http_requests_total", route="scim:/Users", method="GET", status="429")
            == 2
        )
        refused, _ = _refused(lambda: client.get(SCIM + "/Users", params=FILTER))
        time.sleep(int(refused.headers["retry-after"]))
        assert (
            client.get(SCIM + "/Users", params=FILTER).status_code == 200
        )  # the client that waits is served


@pytest.fixture
def address_limited(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str]]]:
    """A server allowing each client address a burst of 4 and then 1 request per second."""
    env = {"SCIMHUB_RATE_LIMIT_PER_ADDRESS": "1", "SCIMHUB_RATE_LIMIT_PER_ADDRESS_BURST": "4"}
    yield from _server(database_url, tmp_path, env)


def test_an_address_past_its_burst_gets_429_whatever_token_it_sends(
    address_limited: tuple[LiveServer, list[str]],
) -> None:
    """All tokens from one address share its bucket, requests without a token too; health stays open."""
    live, tokens = address_limited
    with httpx.Client(base_url=live.url, timeout=30) as client:
        sent = [client.get(SCIM + "/Users", params=FILTER, headers=_bearer(t)) for t in tokens]
        sent.append(client.get(SCIM + "/Users", params=FILTER))
        assert [r.status_code for r in sent] == [200, 200, 200, 401]
        token = _bearer(tokens[2])
        _assert_scim_429(_refused(lambda: client.get(SCIM + "/Users", params=FILTER, headers=token))[0])
        _assert_scim_429(
            _refused(lambda: client.get(SCIM + "/Users", params=FILTER, headers=_bearer(tokens[0])))[0]
        )
        _assert_api_429(_refused(lambda: client.get(API + "/openapi.json"))[0])
        assert [client.get(p).status_code for p in ("/healthz", "/readyz", "/metrics")] == [200, 200, 200]


@pytest.fixture
def failure_limited(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str]]]:
    """A server closing an address after 3 refused tokens in 600 s (then one guess per 200 s)."""
    env = {"SCIMHUB_AUTH_FAILURE_LIMIT": "3", "SCIMHUB_AUTH_FAILURE_WINDOW_SECONDS": "600"}
    yield from _server(database_url, tmp_path, env)


def test_refused_tokens_from_one_address_are_throttled_and_counted(
    failure_limited: tuple[LiveServer, list[str]],
) -> None:
    """Three refused tokens close the address to unknown tokens; a success forgives; reasons are counted."""
    live, tokens = failure_limited
    malformed = _bearer("not-a-token")
    with httpx.Client(base_url=live.url + SCIM, timeout=30) as client:
        admin = _bearer(tokens[0])
        assert client.get("/Users", params=FILTER, headers=admin).status_code == 200
        created = httpx.post(
            live.url + API + "/tokens",
            json={"name": "soon revoked", "actorUrn": "urn:li:corpuser:admin"},
            headers=admin,
            timeout=30,
        ).json()
        revoked = _bearer(created["accessToken"])
        assert (
            httpx.delete(live.url + API + f"/tokens/{created['metadata']['id']}", headers=admin).status_code
            == 204
        )
        assert [client.get("/Users").status_code for _ in range(5)] == [401] * 5  # no token: no guess
        assert [client.get("/Users", headers=malformed).status_code for _ in range(2)] == [401, 401]
        assert client.get("/Users", params=FILTER, headers=admin).status_code == 200  # forgives the two
        statuses = [client.get("/Users", headers=h).status_code for h in (malformed, malformed, revoked)]
        assert statuses == [401, 401, 401]
        guessed = client.get("/Users", headers=malformed)
        _assert_scim_429(guessed)
        assert int(guessed.headers["retry-after"]) == 200
        _assert_scim_429(client.get("/Users", headers=revoked))
        _assert_scim_429(client.get("/Users", headers=_bearer(tokens[1])))  # unknown here: waits too
        assert client.get("/Users", params=FILTER, headers=admin).status_code == 200  # known good: served
    samples = _metrics(live.url)
    assert _value(samples, "scimhub_auth_failures_total", reason="malformed") == 4
    assert _value(samples, "scimhub_auth_failures_total", reason="revoked") == 1
    assert _value(samples, "scimhub_auth_failures_total", reason="missing") == 5
    assert _value(samples, "scimhub_rate_limited_total", limit="auth_failures") == 3


def test_metrics_count_by_route_template_and_report_the_outbox(live: LiveServer) -> None:
    """After a POST and GETs of a user: its route counted without its id, timed, the outbox head moved."""
    before = _metrics(live.url)
    with live.client() as client:
        created = client.post(
            "/Users",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "metrics-probe"},
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        assert [client.get(f"/Users/{user_id}").status_code for _ in range(3)] == [200] * 3
        assert client.delete(f"/Users/{user_id}").status_code == 204
    after = _metrics(live.url)
    by_id = {"route": "scim:/Users/{id}", "method": "GET"}

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("scimhub_http_requests_total", status="200", **by_id) == 3
    assert grew("scimhub_http_request_duration_seconds_count", **by_id) == 3
    assert grew("scimhub_http_requests_total", route="scim:/Users", method="POST", status="201") == 1
    assert grew("scimhub_http_requests_total", route="scim:/Users/{id}", method="DELETE", status="204") == 1
    assert grew("scimhub_http_requests_total", route="/metrics", method="GET", status="200") == 1
    assert grew("scimhub_events_head_seq") >= 2  # created and deleted
    assert not [key for key in after if any(user_id in value for _, value in key[1])]
    assert _value(after, "scimhub_database_up") == 1 and _value(after, "scimhub_db_pool_size") > 0
    assert _value(after, "scimhub_datahub_push_state", state="off") == 1
    assert _value(after, "scimhub_datahub_push_lag_events") == _value(after, "scimhub_events_head_seq")


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str]]]:
    yield from _server(database_url, tmp_path, {"SCIMHUB_WORKERS": "2"})


def test_two_workers_answer_a_scrape_with_the_sum_of_both(two_workers: tuple[LiveServer, list[str]]) -> None:
    """Whichever worker answers, /metrics counts every request of both and both pools (multiprocess mode)."""
    live, tokens = two_workers
    for _ in range(20):  # a new connection each: the kernel spreads them over the workers
        response = httpx.get(
            live.url + SCIM + "/Users", params=FILTER, headers=_bearer(tokens[0]), timeout=30
        )
        assert response.status_code == 200
    pool = make_engine(live.database_url).pool.size()  # type: ignore[attr-defined]
    for _ in range(6):
        samples = _metrics(live.url)
        assert (
            _value(samples, "scimhub_http_requests_total", route="scim:/Users", method="GET", status="200")
            == 20
        )
        assert _value(samples, "scimhub_db_pool_size") == 2 * pool
