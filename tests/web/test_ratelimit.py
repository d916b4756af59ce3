"""Rate limits and failed-authentication throttling (ADR 0023), on an injected clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from scimhub.settings import Settings
from scimhub.web.ratelimit import Limiter, RateLimits, TokenBuckets, client_address, token_key

SCIM_PREFIXES = ("/gms/openapi/scim/v2", "/scim/v2")


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the bucket --------------------------------------------------------------------------------


def test_a_new_key_may_spend_its_whole_burst_at_once_then_waits_for_the_rate() -> None:
    """``burst`` requests pass at one instant; the next is told to wait one token's time (1 / rate)."""
    buckets = TokenBuckets(rate=4, burst=3)
    assert [buckets.take("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", 0.0) == pytest.approx(0.25)


def test_tokens_come_back_at_the_rate_up_to_the_burst() -> None:
    """After 0.5 s at 4/s, two requests pass, not three; after an idle hour, only ``burst`` do."""
    buckets = TokenBuckets(rate=4, burst=3)
    for _ in range(3):
        buckets.take("k", 0.0)
    assert [buckets.take("k", 0.5) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.25)]
    later = 3600.0
    assert [buckets.take("k", later) > 0 for _ in range(4)] == [False, False, False, True]


def test_keys_have_their_own_buckets() -> None:
    """Spending one key's tokens leaves another's untouched."""
    buckets = TokenBuckets(rate=1, burst=1)
    assert buckets.take("a", 0.0) == 0.0 and buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0.0


def test_wait_looks_without_taking_and_forget_fills_the_bucket() -> None:
    """``wait`` reports the time until a token without spending one; ``forget`` gives the burst back."""
    buckets = TokenBuckets(rate=2, burst=1)
    assert buckets.wait("k", 0.0) == 0.0
    buckets.take("k", 0.0)
    assert buckets.wait("k", 0.0) == pytest.approx(0.5) == buckets.wait("k", 0.0)
    assert buckets.wait("k", 0.5) == 0.0
    buckets.forget("k")
    assert buckets.take("k", 0.0) == 0.0


def test_the_number_of_buckets_is_bounded_and_idle_ones_go_first() -> None:
    """Past ``max_keys``, refilled buckets are dropped (no loss: absent is full), then the oldest."""
    buckets = TokenBuckets(rate=1, burst=2, max_keys=4)
    for key in "abcd":
        buckets.take(key, 0.0)
    buckets.take("d", 0.0)  # d is empty now; a, b, c have refilled by t=1
    buckets.take("e", 1.0)
    assert len(buckets) == 2 and buckets.take("d", 1.0) == 0.0 and buckets.take("d", 1.0) > 0
    for i in range(100):
        buckets.take(i, 1.0)
    assert len(buckets) <= 4


# -- the limiter -------------------------------------------------------------------------------


def _limiter(**settings: int) -> Limiter:
    return Limiter.from_settings(Settings(**settings))  # type: ignore[arg-type]


def test_a_rate_of_zero_turns_a_limit_off() -> None:
    """``SCIMHUB_RATE_LIMIT_PER_TOKEN=0`` and friends: that limit is not kept at all."""
    limiter = _limiter(rate_limit_per_token=0, rate_limit_per_address=0, auth_failure_limit=0)
    assert (limiter.per_token, limiter.per_address, limiter.failures) == (None, None, None)
    assert all(limiter.admit("10.0.0.1", 1, 0.0) is None for _ in range(10_000))


def test_the_defaults_let_an_entra_burst_through() -> None:
    """The defaults pass 2,000 requests of one token from one address at one instant (ADR 0023)."""
    limiter = _limiter()
    assert all(limiter.admit("10.0.0.1", 1, 0.0) is None for _ in range(2_000))


def test_the_per_address_limit_counts_every_token_of_an_address() -> None:
    """Two tokens from one address share its bucket; another address has its own."""
    limiter = _limiter(rate_limit_per_address=1, rate_limit_per_address_burst=2)
    assert limiter.admit("10.0.0.1", 1, 0.0) is None and limiter.admit("10.0.0.1", 2, 0.0) is None
    refusal = limiter.admit("10.0.0.1", 3, 0.0)
    assert refusal is not None and (refusal.limit, refusal.retry_after) == ("address", 1)
    assert limiter.admit("10.0.0.2", 3, 0.0) is None


def test_the_per_token_limit_follows_the_token_across_addresses() -> None:
    """One token's bucket is spent from any address; Retry-After rounds the wait up to whole seconds."""
    limiter = _limiter(rate_limit_per_token=1, rate_limit_per_token_burst=1)
    assert limiter.admit("10.0.0.1", 7, 0.0) is None
    refusal = limiter.admit("10.0.0.2", 7, 0.2)
    assert refusal is not None and (refusal.limit, refusal.retry_after) == ("token", 1)
    assert limiter.admit("10.0.0.2", 8, 0.2) is None
    assert limiter.admit("10.0.0.2", None, 0.2) is None  # no token: only the address counts


def test_refused_tokens_from_an_address_close_it_after_the_limit() -> None:
    """The Nth refused token closes the address; Retry-After is the time one failure takes to expire."""
    limiter = _limiter(auth_failure_limit=3, auth_failure_window_seconds=60)
    for i in range(3):
        assert limiter.admit("10.0.0.9", i, 0.0) is None
        limiter.settle("10.0.0.9", i, "revoked", False, 0.0)
    refusal = limiter.admit("10.0.0.9", 99, 0.0)
    assert refusal is not None and (refusal.limit, refusal.retry_after) == ("auth_failures", 20)
    assert limiter.admit("10.0.0.8", 99, 0.0) is None
    assert limiter.admit("10.0.0.9", 99, 20.0) is None  # one guess per 20 s from then on


def test_a_success_forgives_the_address_its_failures() -> None:
    """A token that authenticates from the address resets its count of failures."""
    limiter = _limiter(auth_failure_limit=3)
    for i in range(2):
        limiter.settle("10.0.0.9", i, "expired", False, 0.0)
    limiter.settle("10.0.0.9", 50, None, True, 0.0)
    for i in range(2):
        limiter.settle("10.0.0.9", i, "expired", False, 0.0)
    assert limiter.admit("10.0.0.9", 51, 0.0) is None


def test_a_request_without_a_token_is_no_guess() -> None:
    """A 401 for a missing token is not counted: it costs no lookup and guesses nothing."""
    limiter = _limiter(auth_failure_limit=1)
    for _ in range(10):
        limiter.settle("10.0.0.9", None, "missing", False, 0.0)
    assert limiter.admit("10.0.0.9", None, 0.0) is None


def test_a_token_known_good_passes_a_closed_address_until_it_fails() -> None:
    """A client sharing an address with a guesser keeps working; its token, once refused, no longer passes."""
    limiter = _limiter(auth_failure_limit=1)
    limiter.settle("10.0.0.9", 42, None, True, 0.0)
    limiter.settle("10.0.0.9", 7, "malformed", False, 0.0)
    assert limiter.admit("10.0.0.9", 7, 0.0) is not None
    assert limiter.admit("10.0.0.9", 42, 0.0) is None
    limiter.settle("10.0.0.9", 42, "revoked", False, 0.0)
    assert limiter.admit("10.0.0.9", 42, 0.0) is not None


# -- the request's keys ------------------------------------------------------------------------


def test_the_client_address_is_the_peer_and_an_ipv6_host_counts_by_its_64() -> None:
    """scope["client"] (what uvicorn gives, rewritten only from trusted proxies); IPv6 by /64."""
    assert client_address({"client": ("192.0.2.7", 5000)}) == "192.0.2.7"
    first = client_address({"client": ("2001:db8:1:2::1", 5000)})
    assert first == client_address({"client": ("2001:db8:1:2:ffff::9", 5000)}) == "2001:db8:1:2::/64"
    assert client_address({"client": ("2001:db8:1:3::1", 5000)}) != first
    assert client_address({"client": None}) == "unknown"


def test_the_token_key_is_a_hash_of_the_header_never_the_token() -> None:
    """Equal headers give equal keys; the key is an int, whatever size the header is."""
    scope = {"headers": [(b"host", b"x"), (b"authorization", b"Bearer " + b"a" * 10_000)]}
    assert token_key(scope) == token_key(dict(scope)) and isinstance(token_key(scope), int)
    assert token_key({"headers": [(b"authorization", b"Bearer b")]}) != token_key(scope)
    assert token_key({"headers": []}) is None


# -- the middleware ----------------------------------------------------------------------------


async def _ok(request: Request) -> JSONResponse:
    state = request.scope.setdefault("state", {})
    outcome = request.query_params.get("auth")
    if outcome == "ok":
        state["actor"] = "user-1"
    elif outcome:
        state["actor"] = None
        state["auth_failure"] = outcome
    return JSONResponse({"ok": True})


def _client(clock: Clock, **settings: int) -> TestClient:
    paths = ["/scim/v2/Users", "/api/v1/tokens", "/openapi/v1/events/poll", "/healthz", "/readyz", "/metrics"]
    app = Starlette(routes=[Route(p, _ok) for p in paths])
    limited = RateLimits(app, _limiter(**settings), SCIM_PREFIXES, clock=clock)
    return TestClient(limited, client=("203.0.113.5", 4000))  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


def test_a_refusal_under_the_scim_base_is_a_scim_error_with_retry_after(clock: Clock) -> None:
    """429, ``Retry-After``, and an RFC 7644 §3.12 Error body with status "429" and no scimType."""
    with _client(clock, rate_limit_per_address=1, rate_limit_per_address_burst=1) as client:
        assert client.get("/scim/v2/Users").status_code == 200
        refused = client.get("/scim/v2/Users")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"].startswith("application/scim+json")
    body = refused.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "429"
    assert "scimType" not in body and "per-address" in body["detail"]


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/openapi/v1/events/poll"])
def test_a_refusal_elsewhere_is_the_json_api_error(clock: Clock, path: str) -> None:
    """The JSON API and the events poll answer ``{"status": 429, "error": "tooManyRequests", ...}``."""
    with _client(clock, rate_limit_per_address=1, rate_limit_per_address_burst=1) as client:
        client.get(path)
        refused = client.get(path)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["status"] == 429 and refused.json()["error"] == "tooManyRequests"


def test_health_and_metrics_are_never_limited(clock: Clock) -> None:
    """/healthz, /readyz and /metrics answer however flooded the address is."""
    with _client(clock, rate_limit_per_address=1, rate_limit_per_address_burst=1) as client:
        client.get("/scim/v2/Users")
        assert client.get("/scim/v2/Users").status_code == 429
        assert [client.get(p).status_code for p in ("/healthz", "/readyz", "/metrics") * 3] == [200] * 9


def test_the_middleware_counts_refused_tokens_and_the_clock_reopens(clock: Clock) -> None:
    """Refused tokens reported by authentication close the address; time reopens it, one guess at a time."""
    with _client(clock, auth_failure_limit=2, auth_failure_window_seconds=10) as client:
        bad = {"Authorization": "Bearer guess"}
        assert [client.get("/api/v1/tokens?auth=revoked", headers=bad).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert client.get("/api/v1/tokens", headers=bad).headers["retry-after"] == "5"
        clock.now += 5
        assert client.get("/api/v1/tokens?auth=revoked", headers=bad).status_code == 200
        assert client.get("/api/v1/tokens", headers=bad).status_code == 429


def test_the_per_token_bucket_refills_with_the_clock(clock: Clock) -> None:
    """One token at 2/s with a burst of 2: two pass, the third waits, half a second later one more passes."""
    with _client(clock, rate_limit_per_token=2, rate_limit_per_token_burst=2) as client:
        token = {"Authorization": "Bearer t"}
        assert [client.get("/scim/v2/Users", headers=token).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/scim/v2/Users").status_code == 200  # no token: not this bucket
        clock.now += 0.5
        assert client.get("/scim/v2/Users", headers=token).status_code == 200
