"""What each layer of the server adds to a ``userName eq`` lookup, in process, without sockets (issue 15).

    .venv/bin/python bench/layers.py [--users 1000] [--requests 2000] [--instructions]

The same lookups (``GET /Users?filter=userName eq "…"``, each of the seeded users in turn) are
answered four ways, on one SQLite database, in this process:

- ``core``: ``Tokens.authenticate`` and ``ScimHandler.handle``, as bench/core.py calls them;
- ``endpoint``: the SCIM endpoint as an ASGI app (``web.scim.ScimBases``: the Starlette request,
  the body, query and headers read, ``call_as_bearer``, the response rendered and sent);
- ``middleware``: that endpoint inside the middleware ``web.app.create_app`` puts around it, but
  the access log: the console's edge, the console's traffic record, the rate limits, the metrics;
- ``app``: the whole application of ``create_app``, access log included (its lines to
  ``/dev/null``), as uvicorn calls it.

Each ASGI request is awaited on one uvloop loop, with a scope as uvicorn builds it. What one way
costs less the way before it is what that layer adds. uvicorn's own work and the kernel's (the
sockets) are not here: bench/server_instructions.py counts the whole server over HTTP.

It prints CPU µs per request (the best of ``--rounds``), or with ``--instructions`` the
instructions per request counted by callgrind (bench/callgrind.py), which other work on the
machine does not change: the way to compare two trees (``PYTHONPATH=<tree>/src``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvloop
from callgrind import instructions_in_reduce
from core import Core
from seed import seed_users
from servers import FreshDatabase, scimhub_token

from scimhub.console.app import make_console
from scimhub.console.http import ConsoleEdge
from scimhub.console.traffic import RecordScimTraffic, ScimTraffic
from scimhub.directory.actors import Actor
from scimhub.logs import configure_logging
from scimhub.settings import Settings
from scimhub.web.app import SCIM_PREFIXES, create_app
from scimhub.web.metrics import Metrics
from scimhub.web.ratelimit import Limiter, RateLimits
from scimhub.web.scim import ScimBases
from scimhub.wiring import Services, build

LAYERS = ("core", "endpoint", "middleware", "app")
PREFIX = SCIM_PREFIXES[1]
NEVER_REFUSE = {"rate_limit_per_token": 10**6, "rate_limit_per_address": 10**6}
"""Limits that do all their work and refuse nothing, so that every lookup is answered."""

Batch = Callable[[], None]


def _scope(token: str, user_name: str) -> dict[str, Any]:
    filter = 'userName eq "' + user_name + '"'
    query = "filter=" + quote(filter, safe="")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "method": "GET",
        "root_path": "",
        "path": f"{PREFIX}/Users",
        "raw_path": f"{PREFIX}/Users".encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())],
        "state": {},
    }


def _asgi_batch(app: Any, token: str, names: list[str]) -> Batch:
    """Return what answers every lookup through ``app``, one after the other on one uvloop loop."""
    loop = uvloop.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def lookups() -> None:
        for name in names:
            statuses: list[int] = []

            async def send(message: dict[str, Any], statuses: list[int] = statuses) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            await app(_scope(token, name), receive, send)
            if statuses != [200]:
                raise RuntimeError(f"the lookup of {name} answered {statuses}")

    return lambda: loop.run_until_complete(lookups())


def _core_batch(services: Services, token: str, names: list[str]) -> Batch:
    """Return what answers every lookup as bench/core.py does: authenticate, then handle."""
    core = Core(services, token)
    calls = [core.call("GET", "/Users", 200, {"filter": f'userName eq "{name}"'}) for name in names]

    def lookups() -> None:
        for call in calls:
            call()

    return lookups


def _batch(layer: str, services: Services, token: str, names: list[str]) -> Batch:
    if layer == "core":
        return _core_batch(services, token, names)
    if layer == "app":
        return _asgi_batch(create_app(services), token, names)
    app: Any = ScimBases(None, SCIM_PREFIXES, services)  # type: ignore[arg-type] - serves SCIM alone
    if layer == "middleware":  # create_app's order, innermost first, without the access log
        app = ConsoleEdge(app, make_console(services, ScimTraffic(), PREFIX))
        app = RecordScimTraffic(app, ScimTraffic(), SCIM_PREFIXES)
        app = RateLimits(app, Limiter.from_settings(services.settings), SCIM_PREFIXES)
        app = Metrics(app, SCIM_PREFIXES)
    return _asgi_batch(app, token, names)


def _run(layer: str, options: argparse.Namespace, workdir: Path) -> float | None:
    """Seed a database, then time ``layer``'s lookups (or, in callgrind's child, make them in a reduce)."""
    database = FreshDatabase("sqlite", workdir, "")
    try:
        token = scimhub_token(database.url)
        services = build(Settings(database_url=database.url, **NEVER_REFUSE))
        with services.store.read() as tx:
            admin = tx.users.get_by_name("admin")
        assert admin is not None
        users = seed_users(services.store, Actor(admin.id, admin.urn), "layers", options.users)
        names = [users[i % len(users)].user_name for i in range(options.requests)]
        warm_up, batch = _batch(layer, services, token, names[:200]), _batch(layer, services, token, names)
        warm_up()
        if options.in_reduce:
            functools.reduce(lambda _, run: run(), [batch], None)
            return None
        best = float("inf")
        for _ in range(options.rounds):
            started = time.process_time()
            batch()
            best = min(best, (time.process_time() - started) / len(names))
        services.close()
        return best
    finally:
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3, help="CPU time: the best of this many runs")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    parser.add_argument("--in-reduce", choices=LAYERS, help=argparse.SUPPRESS)  # callgrind's child
    options = parser.parse_args()
    configure_logging("info")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115 - the process's
    if options.in_reduce:
        with tempfile.TemporaryDirectory(prefix="scimhub-layers-") as workdir:
            _run(options.in_reduce, options, Path(workdir))
        return
    unit = "M instr." if options.instructions else "µs CPU"
    print(f"\nsqlite, {options.users:,} users, {options.requests:,} lookups, in process")
    print(f"| layers | {unit} per lookup | added by the layer |\n| --- | ---: | ---: |")
    before = 0.0
    for layer in LAYERS:
        if options.instructions:
            args = [f"--users={options.users}", f"--requests={options.requests}", f"--in-reduce={layer}"]
            cost = instructions_in_reduce(__file__, *args) / options.requests / 1e6
        else:
            with tempfile.TemporaryDirectory(prefix="scimhub-layers-") as workdir:
                measured = _run(layer, options, Path(workdir))
            assert measured is not None
            cost = measured * 1e6
        figure = f"{cost:.3f}" if options.instructions else f"{cost:.0f}"
        added = f"{cost - before:+.3f}" if options.instructions else f"{cost - before:+.0f}"
        print(f"| {layer} | {figure} | {added if before else '–'} |", flush=True)
        before = cost


if __name__ == "__main__":
    sys.exit(main())
