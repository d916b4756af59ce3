"""The core's own cost per request, without HTTP: authentication + the SCIM handler, in-process.

    .venv/bin/python bench/core.py [--backend sqlite|postgresql|both] [--users N] [--profile SCENARIO]
        [--instructions] [--other-core]

The HTTP benchmarks (bench/run.py) measure what a client sees; this one isolates
what scimhub's Python costs per request, the figure that optimisations of the core
move (ADR 0015). For each scenario it runs, in one thread of this process:

- ``Tokens.authenticate`` + ``ScimHandler.handle`` for each request (what one
  request costs the server, minus uvicorn, Starlette and the thread hop);
- the baseline: the same lookup as one prepared DB-API statement on a raw
  connection (``SELECT * FROM users WHERE user_name_key = ?``), the least any
  implementation must spend to answer from this database.

It prints CPU µs per request for both and their ratio, then how much of that CPU was this
thread's (the rest: SQLite's WAL checkpoints, in a thread of their own) and the wall time per
request. ``--profile NAME`` prints
the cProfile of one scenario instead (by cumulative time).

``--other-core`` shows what the machine's other core does to those CPU figures: this process is
pinned to CPU 0 and each scenario's requests run in slices, a busy loop pinned to CPU 1 in every
other slice. It prints the median CPU per request with that core idle and busy, and their ratio.
The instructions are the same either way; on a virtual machine whose two CPUs share a physical
core, or its caches, the busy neighbour makes each of them slower (docs/benchmarks.md, "Session 36").

``--instructions`` counts instructions instead of CPU time, which other work on a
shared machine does not change: each scenario runs again in a child process under
valgrind's callgrind, collecting only inside one ``functools.reduce`` call that
makes the measured requests (``--toggle-collect=functools_reduce``), after the
same warm-up. It prints instructions per request (millions, "M instr."); on
PostgreSQL they are the server process's alone, the database's are not counted.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

import orjson
from callgrind import instructions_in_reduce
from options import add_database_options, chosen_backends
from seed import seed_group, seed_users, user_body
from servers import FreshDatabase, scimhub_token

from scimhub.directory.actors import Actor
from scimhub.scim.messages import ScimRequest
from scimhub.settings import Settings
from scimhub.wiring import Services, build

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCENARIOS = (
    "GET userName eq",
    "GET /Users/{id}",
    "POST /Users",
    "PATCH add 1 member",
    "PATCH add 100 members",
)
BATCH = 100
"""Members per PATCH of the last scenario: what bench/entra_cycle.py's initial cycle sends."""
BASE = "http://bench/scim/v2"


def _cost_per_call(calls: list[Callable[[], object]]) -> tuple[float, float, float]:
    """Run each call once; return seconds per call of all but the first 10 % (the warm-up).

    Three figures: the CPU of the whole process, the CPU of this thread alone (what the event loop
    would spend, without the WAL checkpoints that SQLite's store runs in a thread of its own, ADR
    0077), and the wall time. Each call runs once because writes cannot be repeated (a second POST
    of one userName is a 409).
    """
    warmup = len(calls) // 10
    for call in calls[:warmup]:
        call()
    process, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
    for call in calls[warmup:]:
        call()
    measured = len(calls) - warmup
    return (
        (time.process_time() - process) / measured,
        (time.thread_time() - thread) / measured,
        (time.perf_counter() - wall) / measured,
    )


SLICES = 12
"""Slices of each scenario's requests under ``--other-core``: half with the other core busy."""


@contextmanager
def _busy_core(cpu: int) -> Iterator[None]:
    """Keep ``cpu`` busy with a loop of another process for as long as the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(spinner.pid, {cpu})
        time.sleep(0.1)  # running, and on its CPU, before the slice starts
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _against_the_other_core(calls: list[Callable[[], object]]) -> tuple[float, float]:
    """Return the median CPU seconds per call with CPU 1 idle and with it busy, this process on CPU 0.

    After the warm-up, the calls run in ``SLICES`` slices, the other core busy in every second one,
    so that whatever else the machine does falls on both alike.
    """
    warmup = len(calls) // 10
    for call in calls[:warmup]:
        call()
    measured = calls[warmup:]
    size = len(measured) // SLICES
    idle: list[float] = []
    busy: list[float] = []
    for index in range(SLICES):
        part = measured[index * size : (index + 1) * size]
        with _busy_core(1) if index % 2 else nullcontext():
            started = time.process_time()
            for call in part:
                call()
            (busy if index % 2 else idle).append((time.process_time() - started) / len(part))
    return statistics.median(idle), statistics.median(busy)


def _in_reduce(calls: list[Callable[[], object]]) -> None:
    """Make the calls after the warm-up inside one ``functools.reduce``: what ``--instructions`` counts."""
    warmup = len(calls) // 10
    for call in calls[:warmup]:
        call()
    functools.reduce(lambda _, call: call(), calls[warmup:], None)


def _instructions(backend: str, scenario: str, options: argparse.Namespace) -> float:
    """Return the instructions per request of ``scenario``, counted by callgrind in a child process."""
    collected = instructions_in_reduce(
        __file__,
        f"--backend={backend}",
        f"--users={options.users}",
        f"--requests={options.requests}",
        f"--postgres-url={options.postgres_url}",
        f"--in-reduce={scenario}",
    )
    calls = _batches(options.requests) if scenario == "PATCH add 100 members" else options.requests
    return collected / (calls - calls // 10)


def _batches(requests: int) -> int:
    """Return how many PATCHes of ``BATCH`` members make the last scenario: a tenth of ``requests``."""
    return requests // 10


class Core:
    """Requests answered the way ``web.auth.call_as_bearer`` answers them, without the hop."""

    def __init__(self, services: Services, token: str) -> None:
        self.services, self.token = services, token
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/scim+json"}

    def call(
        self, method: str, path: str, status: int, query: dict[str, str] | None = None, body: object = None
    ):  # type: ignore[no-untyped-def]
        request = ScimRequest(
            method=method,
            path=path,
            base_url=BASE,
            query=query or {},
            headers=self.headers,
            body=b"" if body is None else orjson.dumps(body),
        )

        def answer() -> None:
            actor = self.services.tokens.authenticate(self.token)
            response = self.services.scim.handle(replace(request, actor=actor))
            if response.status != status:
                raise RuntimeError(f"{method} {path} answered {response.status}: {response.body}")

        return answer

    def add_members(self, group_id: str, user_ids: list[str]):  # type: ignore[no-untyped-def]
        """Return the PATCH that adds ``user_ids`` to the group, in one operation, as Entra sends it."""
        operation = {"op": "Add", "path": "members", "value": [{"value": id} for id in user_ids]}
        body = {"schemas": [PATCH_OP], "Operations": [operation]}
        return self.call("PATCH", f"/Groups/{group_id}", 204, body=body)


def _raw_lookup(services: Services, names: list[str]) -> list[Callable[[], object]]:
    """Return the baseline: each lookup as one statement on the raw DB-API connection."""
    raw = services.engine.raw_connection()
    marker = "?" if services.engine.dialect.name == "sqlite" else "%s"
    sql = f"SELECT * FROM users WHERE user_name_key = {marker}"

    def lookup(name: str) -> Callable[[], object]:
        def run() -> object:
            cursor = raw.cursor()
            cursor.execute(sql, (name.lower(),))
            row = cursor.fetchone()
            cursor.close()
            raw.commit()
            return row

        return run

    return [lookup(name) for name in names]


def _measure(
    backend: str,
    users: int,
    requests: int,
    workdir: Path,
    postgres_url: str,
    profile: str | None,
    in_reduce: str | None = None,
    other_core: bool = False,
) -> None:
    database = FreshDatabase(backend, workdir, postgres_url)
    try:
        token = scimhub_token(database.url)
        services = build(Settings(database_url=database.url))
        with services.store.read() as tx:
            admin = tx.users.get_by_name("admin")
        assert admin is not None
        actor = Actor(admin.id, admin.urn)
        seeded = seed_users(services.store, actor, "seed", users)
        group = seed_group(services.groups, actor, "Bench group of 100", [u.id for u in seeded[:100]])
        core, rng = Core(services, token), random.Random(5)
        names = [u.user_name for u in rng.choices(seeded, k=requests)]
        newcomers = seed_users(services.store, actor, "new", requests)
        joiners = seed_users(services.store, actor, "join", _batches(requests) * BATCH)
        scenarios: dict[str, list[Callable[[], object]]] = {
            "GET userName eq": [
                core.call("GET", "/Users", 200, {"filter": f'userName eq "{name}"'}) for name in names
            ],
            "GET /Users/{id}": [
                core.call("GET", f"/Users/{u.id}", 200) for u in rng.choices(seeded, k=requests)
            ],
            "POST /Users": [
                core.call("POST", "/Users", 201, body=user_body("post", i)) for i in range(requests)
            ],
            "PATCH add 1 member": [core.add_members(group.id, [u.id]) for u in newcomers],
            "PATCH add 100 members": [
                core.add_members(group.id, [u.id for u in joiners[i : i + BATCH]])
                for i in range(0, len(joiners), BATCH)
            ],
        }
        if in_reduce is not None:
            _in_reduce(scenarios[in_reduce])
            return
        if profile is not None:
            calls = scenarios[profile]
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [call() for call in calls])
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            return
        if other_core:
            _print_against_the_other_core(backend, users, requests, scenarios)
            services.close()
            return
        baseline = _cost_per_call(_raw_lookup(services, names))[0]
        print(f"\n{backend}, {users:,} users, {requests:,} requests per scenario, one thread")
        print(f"  baseline (one raw DB-API lookup by user_name_key): {baseline * 1e6:.0f} µs CPU")
        print("  | scenario | µs CPU per request | ÷ baseline | of it, this thread | µs wall |")
        print("  | --- | ---: | ---: | ---: | ---: |")
        for name, calls in scenarios.items():
            cost, thread, wall = _cost_per_call(calls)
            row = f"{cost * 1e6:.0f} | {cost / baseline:.1f} | {thread * 1e6:.0f} | {wall * 1e6:.0f}"
            print(f"  | {name} | {row} |", flush=True)
        services.close()
    finally:
        database.drop()


def _print_against_the_other_core(
    backend: str, users: int, requests: int, scenarios: dict[str, list[Callable[[], object]]]
) -> None:
    print(f"\n{backend}, {users:,} users, {requests:,} requests per scenario, on CPU 0; CPU 1 idle, busy")
    print("  | scenario | µs CPU per request, CPU 1 idle | CPU 1 busy | busy ÷ idle |")
    print("  | --- | ---: | ---: | ---: |")
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        for name, calls in scenarios.items():
            idle, busy = _against_the_other_core(calls)
            print(f"  | {name} | {idle * 1e6:.0f} | {busy * 1e6:.0f} | {busy / idle:.2f} |", flush=True)
    finally:
        os.sched_setaffinity(0, previous)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="CPU per request of scimhub's core, in-process, against raw SQL."
    )
    add_database_options(parser)
    parser.add_argument("--users", type=int, default=10_000, help="users to seed [10,000]")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per scenario [2,000]")
    parser.add_argument("--profile", choices=SCENARIOS, help="print the cProfile of this scenario instead")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    parser.add_argument(
        "--other-core", action="store_true", help="CPU per request with CPU 1 idle against busy (on CPU 0)"
    )
    parser.add_argument("--in-reduce", help=argparse.SUPPRESS)  # the child process of --instructions
    options = parser.parse_args()
    if options.instructions:
        for backend in chosen_backends(options):
            print(f"\n{backend}, {options.users:,} users, {options.requests:,} requests per scenario")
            print("  | scenario | M instr. per request |\n  | --- | ---: |")
            for scenario in SCENARIOS:
                print(f"  | {scenario} | {_instructions(backend, scenario, options) / 1e6:.2f} |", flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="scimhub-core-") as workdir:
        for backend in chosen_backends(options):
            _measure(
                backend,
                options.users,
                options.requests,
                Path(workdir),
                options.postgres_url,
                options.profile,
                options.in_reduce,
                options.other_core,
            )


if __name__ == "__main__":
    sys.exit(main())
