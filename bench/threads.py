"""How many threads should run the core in one process? (ADR 0016)

    .venv/bin/python bench/threads.py [--backend sqlite|postgresql|both] [--threads 1,2,4,8,40] [--repeats 2]

One database of ``--users`` users; the bare Starlette floor (bench/floor.py) is
started once; then, for each ``SCIMHUB_THREADS`` value in turn (interleaved
``--repeats`` times, so a change in the machine's load hits every setting alike),
a fresh ``scimhub serve`` answers the same ``GET /Users?filter=userName eq "…"``
requests from 8 clients. It prints req/s, p50, p99, the server's CPU per
request and req/s ÷ the floor's. 40 is Starlette's default thread pool, what
scimhub used before ADR 0016.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from load import Request, run_load
from options import add_database_options, chosen_backends
from seed import seed_users
from servers import FreshDatabase, ServerProcess, scimhub_server, scimhub_token, script_server

from scimhub.directory.actors import Actor
from scimhub.settings import Settings
from scimhub.wiring import build

BENCH = Path(__file__).resolve().parent


def _lookups(database_url: str, users: int, count: int) -> list[Request]:
    services = build(Settings(database_url=database_url))
    try:
        with services.store.read() as tx:
            admin = tx.users.get_by_name("admin")
        assert admin is not None
        names = [u.user_name for u in seed_users(services.store, Actor(admin.id, admin.urn), "seed", users)]
    finally:
        services.close()
    rng = random.Random(7)
    return [
        Request("GET", "/scim/v2/Users?filter=" + quote(f'userName eq "{name}"', safe=""))
        for name in rng.choices(names, k=count)
    ]


def _measure(server: ServerProcess, requests: list[Request], token: str, clients: int) -> tuple[float, ...]:
    run_load(server.url, requests[:300], token=token, concurrency=clients, time_limit=60)
    cpu = server.cpu_seconds()
    outcome = run_load(server.url, requests, token=token, concurrency=clients, time_limit=60)
    if outcome.errors:
        raise RuntimeError(f"{outcome.errors} errors: {outcome.error_samples}")
    cpu_per_request = (server.cpu_seconds() - cpu) / outcome.count
    return outcome.throughput, outcome.percentile(50), outcome.percentile(99), cpu_per_request


def _backend(backend: str, options: argparse.Namespace, floor: ServerProcess, workdir: Path) -> None:
    database = FreshDatabase(backend, workdir, options.postgres_url)
    try:
        token = scimhub_token(database.url)
        requests = _lookups(database.url, options.users, options.requests)
        floor_rate = _measure(floor, requests, token, options.clients)[0]
        print(
            f"\n{backend}, {options.users:,} users, {options.clients} clients; floor {floor_rate:,.0f} req/s"
        )
        print("| SCIMHUB_THREADS | run | req/s | p50 ms | p99 ms | server CPU ms/req | req/s ÷ floor |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for run in range(1, options.repeats + 1):
            for threads in options.threads:
                os.environ["SCIMHUB_THREADS"] = str(threads)
                server = scimhub_server(database.url, workdir / f"serve-{threads}.log")
                try:
                    rate, p50, p99, cpu = _measure(server, requests, token, options.clients)
                finally:
                    server.stop()
                print(
                    f"| {threads} | {run} | {rate:,.0f} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {cpu * 1e3:.2f}"
                    f" | {rate / floor_rate:.3f} |",
                    flush=True,
                )
    finally:
        os.environ.pop("SCIMHUB_THREADS", None)
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="scimhub's throughput by SCIMHUB_THREADS, against the floor."
    )
    add_database_options(parser)
    parser.add_argument("--threads", default="1,2,4,8,40", help="thread counts to compare [1,2,4,8,40]")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds [2]")
    parser.add_argument("--users", type=int, default=10_000, help="users to seed [10,000]")
    parser.add_argument("--requests", type=int, default=4_000, help="requests per measured run [4,000]")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections [8]")
    options = parser.parse_args()
    options.threads = [int(t) for t in options.threads.split(",")]
    with tempfile.TemporaryDirectory(prefix="scimhub-threads-") as directory:
        workdir = Path(directory)
        floor = script_server(BENCH / "floor.py", workdir / "floor.log")
        try:
            for backend in chosen_backends(options):
                _backend(backend, options, floor, workdir)
        finally:
            floor.stop()


if __name__ == "__main__":
    sys.exit(main())
