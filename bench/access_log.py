"""The access log's cost per request, in-process: no sockets, each request in a task of its own.

    .venv/bin/python bench/access_log.py [--before OLD/src/scimhub/web/access_log.py]

Runs a bare ASGI app, and the app behind ``web/access_log.py`` (and behind an
older copy of it given with ``--before``, e.g. from ``git archive``), on uvloop,
with the JSON formatter writing to /dev/null; prints the best of 5 runs, in
CPU time (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import time
from typing import Any

import uvloop

from scimhub.logs import JsonFormatter
from scimhub.web.access_log import AccessLog


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(message: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/scim/v2/Users",
        "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "state": {},
    }


async def _measure(app: Any, requests: int) -> float:
    loop, best = asyncio.get_running_loop(), float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(requests):
            await loop.create_task(app(_scope(), _receive, _send))
        best = min(best, (time.process_time() - started) / requests)
    return best


def main() -> None:
    """Print µs per request for each variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="an older web/access_log.py to compare with")
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    handler = logging.StreamHandler(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    variants: list[tuple[str, Any]] = [("bare app", _app), ("access log", AccessLog(_app))]
    if args.before:
        spec = importlib.util.spec_from_file_location("before_access_log", args.before)
        assert spec is not None and spec.loader is not None
        before = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(before)
        variants.insert(1, ("access log before", before.AccessLog(_app)))

    async def run() -> None:
        for name, app in variants:
            print(f"{name:18s} {await _measure(app, args.requests) * 1e6:6.1f} µs/request")

    uvloop.run(run())


if __name__ == "__main__":
    main()
