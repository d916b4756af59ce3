"""What the rate limits and the metrics add to each request, without HTTP or a database (ADR 0023, 0024).

    .venv/bin/python bench/middleware_cost.py [--requests 100000] [--repeats 3]
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/middleware_cost.py   # as --workers N does

An ASGI app that answers at once is called directly on one event loop, bare and
wrapped by each middleware, with the scope of an Entra ``GET /Users?filter=…``
(a 200-byte bearer token, a client address). It prints the best of ``--repeats``
runs in µs of CPU per request, what the pool gauge adds to a connection's
checkout and checkin (SQLite), and the memory of 100,000 buckets (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from typing import Any

from sqlalchemy import Engine

from scimhub.settings import Settings
from scimhub.store.sql.engine import make_engine, watch_pool
from scimhub.web.app import SCIM_PREFIXES
from scimhub.web.metrics import POOL_CHECKED_OUT, POOL_SIZE, Metrics
from scimhub.web.ratelimit import Limiter, RateLimits, TokenBuckets

NEVER_REFUSE = Settings(rate_limit_per_token=10**6, rate_limit_per_address=10**6)
"""Limits that do all their work but never refuse, so that every request reaches the app."""


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope.setdefault("state", {})["actor"] = "user-id"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: dict[str, Any]) -> None:
    return None


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/scim/v2/Users",
        "query_string": b"filter=userName%20eq%20%22someone%40example.com%22",
        "client": ("10.1.2.3", 50123),
        "headers": [(b"host", b"scimhub"), (b"authorization", b"Bearer " + b"x" * 200), (b"accept", b"*/*")],
    }


async def _run(app: Any, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await app(_scope(), _receive, _send)
    return (time.process_time() - started) / requests


def _checkouts(engine: Engine, count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(count):
            with engine.connect():
                pass
        best = min(best, (time.process_time() - started) / count)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    apps = {
        "bare": _app,
        "rate limits": RateLimits(_app, Limiter.from_settings(NEVER_REFUSE), SCIM_PREFIXES),
        "metrics": Metrics(_app, SCIM_PREFIXES),
        "both": Metrics(RateLimits(_app, Limiter.from_settings(NEVER_REFUSE), SCIM_PREFIXES), SCIM_PREFIXES),
    }
    loop = asyncio.new_event_loop()
    best = {}
    for name, app in apps.items():
        loop.run_until_complete(_run(app, 2_000))  # warm up
        best[name] = min(loop.run_until_complete(_run(app, args.requests)) for _ in range(args.repeats))
    for name, seconds in best.items():
        added = (seconds - best["bare"]) * 1e6
        print(f"{name:12s} {seconds * 1e6:7.2f} µs per request ({added:+.2f} µs over bare)")
    with tempfile.TemporaryDirectory() as directory:
        plain, watched = (make_engine(f"sqlite:///{directory}/{name}.db") for name in ("plain", "watched"))
        watch_pool(watched, POOL_SIZE.set, POOL_CHECKED_OUT.inc, POOL_CHECKED_OUT.dec)
        bare, gauged = (_checkouts(e, args.requests // 5, args.repeats) for e in (plain, watched))
        print(f"checkout + checkin {bare * 1e6:.2f} µs, with the pool gauge {gauged * 1e6:.2f} µs")
        plain.dispose(), watched.dispose()
    tracemalloc.start()
    buckets = TokenBuckets(1, 10)
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):
        buckets.take(hash(str(i)), 0.0)
    print(f"100,000 buckets: {(tracemalloc.get_traced_memory()[0] - before) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
