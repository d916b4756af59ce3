"""Rate limits per bearer token and per client address, and failed-authentication throttling (ADR 0023).

Every limit is a token bucket kept in this process's memory (``TokenBuckets``):
a request takes one token, tokens come back at the configured rate up to the
burst. A request refused answers 429 with ``Retry-After`` (RFC 6585 §4, RFC 9110
§10.2.3) before it reaches the database, so a flood costs a dictionary lookup
per request, not a query. RFC 7644 §3.12 has no row for 429: under the SCIM base
it is an Error message with ``status`` "429" and no ``scimType``; elsewhere the
JSON API's error body.

Failed authentications (a token presented and refused: malformed, unknown,
revoked, expired, or its user suspended) spend from a bucket per address, and a
success empties the record of that address. Once an address has spent it, its
requests are refused unread, except those carrying a token that authenticated
from this process before: a client sharing an address with a token guesser
keeps working. ``web/auth.py`` reports the outcome of each authentication in the
request's state; this middleware reads it once the request is answered.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scimhub.errors import TooManyRequests
from scimhub.scim.errors import error_response
from scimhub.scim.messages import SCIM_MEDIA_TYPE
from scimhub.settings import Settings
from scimhub.web.api.errors import error_reply
from scimhub.web.api.gateway import render as render_reply

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Never limited: an orchestrator or a scraper must reach them while the server is flooded."""
MAX_KEYS = 100_000
"""The most buckets one limit keeps; beyond it, idle (full) buckets are dropped first."""
UNCOUNTED_FAILURES = frozenset({"missing"})
"""Failures that are no guess at a token: a request without one is refused without any lookup."""


class TokenBuckets:
    """Token buckets by key, refilled at ``rate`` per second up to ``burst`` (one event loop, no lock)."""

    def __init__(self, rate: float, burst: float, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._max_keys = max_keys
        self._buckets: dict[object, list[float]] = {}
        """Key → [tokens, when they were counted]; an absent key is a full bucket."""

    def take(self, key: object, now: float) -> float:
        """Take a token from ``key``'s bucket; return 0 if there was one, else the seconds until there is."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._evict(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def wait(self, key: object, now: float) -> float:
        """Return the seconds until ``key``'s bucket holds a token (0 if it does), taking none."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def forget(self, key: object) -> None:
        """Fill ``key``'s bucket again (by forgetting it)."""
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        """Drop the buckets that have refilled (lossless), then the oldest if still a quarter too many."""
        rate, burst = self.rate, self.burst
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= burst]
        for key in full:
            del self._buckets[key]
        excess = len(self._buckets) - self._max_keys * 3 // 4
        for key in list(self._buckets)[: max(excess, 0)]:
            del self._buckets[key]


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: which limit, and when to try again."""

    limit: str
    """``token``, ``address`` or ``auth_failures``: the label of ``scimhub_rate_limited_total``."""
    retry_after: int
    """Whole seconds, at least 1 (RFC 9110 §10.2.3 ``delay-seconds``)."""


class Limiter:
    """The three limits of one process; each is None when configured off (0)."""

    def __init__(
        self,
        per_token: TokenBuckets | None,
        per_address: TokenBuckets | None,
        failures: TokenBuckets | None,
    ) -> None:
        self.per_token, self.per_address, self.failures = per_token, per_address, failures
        self._trusted: dict[int, None] = {}
        """Keys of tokens that authenticated here: they pass an address's failure throttle."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Limiter:
        """Return the limits ``settings`` configure (ADR 0023 gives the defaults and why)."""
        window = max(settings.auth_failure_window_seconds, 1)
        limit = settings.auth_failure_limit
        return cls(
            _buckets(settings.rate_limit_per_token, settings.rate_limit_per_token_burst),
            _buckets(settings.rate_limit_per_address, settings.rate_limit_per_address_burst),
            TokenBuckets(limit / window, limit) if limit else None,
        )

    def admit(self, address: str, token: int | None, now: float) -> Refusal | None:
        """Return why a request from ``address`` with ``token`` (its key) is refused, or None to serve it."""
        if self.failures is not None and token not in self._trusted:
            wait = self.failures.wait(address, now)
            if wait:
                return Refusal("auth_failures", _seconds(wait))
        if self.per_address is not None:
            wait = self.per_address.take(address, now)
            if wait:
                return Refusal("address", _seconds(wait))
        if self.per_token is not None and token is not None:
            wait = self.per_token.take(token, now)
            if wait:
                return Refusal("token", _seconds(wait))
        return None

    def settle(
        self, address: str, token: int | None, failure: str | None, authenticated: bool, now: float
    ) -> None:
        """Count a failed authentication against ``address``, or forgive the address a successful one."""
        if self.failures is None:
            return
        if failure is not None and failure not in UNCOUNTED_FAILURES:
            self.failures.take(address, now)
            if token is not None:
                self._trusted.pop(token, None)
        elif authenticated:
            self.failures.forget(address)
            if token is not None and token not in self._trusted:
                if len(self._trusted) >= MAX_KEYS:
                    self._trusted.clear()
                self._trusted[token] = None


def _buckets(rate: int, burst: int) -> TokenBuckets | None:
    return TokenBuckets(rate, burst) if rate else None


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class RateLimits:
    """ASGI middleware: refuse with 429 what the ``Limiter`` refuses, and tell it how authentication went."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        scim_prefixes: tuple[str, ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.limiter, self.scim_prefixes, self.clock = app, limiter, scim_prefixes, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request if a limit says so; else serve it and settle how it authenticated."""
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        address, token = client_address(scope), token_key(scope)
        state = scope.setdefault("state", {})
        refusal = self.limiter.admit(address, token, self.clock())
        if refusal is not None:
            state["rate_limited"] = refusal.limit
            await self._refuse(scope, refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)
        failure = state.get("auth_failure")
        self.limiter.settle(address, token, failure, state.get("actor") is not None, self.clock())

    def _refuse(self, scope: Scope, refusal: Refusal) -> Response:
        detail = {
            "token": "this token sent more requests than the per-token rate limit allows",
            "address": "this client address sent more requests than the per-address rate limit allows",
            "auth_failures": "too many requests from this address presented a token that was refused",
        }[refusal.limit]
        error = TooManyRequests(f"{detail}; retry after {refusal.retry_after} s", refusal.retry_after)
        if scope["path"].startswith(self.scim_prefixes):
            answer = error_response(error)
            body = orjson.dumps(answer.body)
            return Response(body, answer.status, headers=answer.headers, media_type=SCIM_MEDIA_TYPE)
        return render_reply(error_reply(error))


def client_address(scope: Scope) -> str:
    """Return the key of the request's client address: the peer, as uvicorn gives it.

    uvicorn puts the ``X-Forwarded-For`` client there only when the peer is a
    trusted proxy. An IPv6 address counts by its /64, what one host is given
    (RFC 4291 §2.5.4), so that a host cannot walk its own prefix.
    """
    client = scope.get("client")
    if not client:
        return "unknown"
    host = str(client[0])
    return _ipv6_prefix(host) if ":" in host else host


@lru_cache(maxsize=4096)
def _ipv6_prefix(host: str) -> str:
    try:
        return str(ipaddress.IPv6Network(f"{host}/64", strict=False))
    except ValueError:
        return host


def token_key(scope: Scope) -> int | None:
    """Return a key for the request's ``Authorization`` header, never the token itself, or None.

    Python's per-process keyed hash (SipHash) of the header: cheap, fixed in size
    whatever a client sends, and meaningless outside this process.
    """
    for name, value in scope["headers"]:
        if name == b"authorization":
            return hash(value)
    return None
