"""scimhub's benchmark suite: the real server over HTTP, each figure as a ratio to a floor.

    .venv/bin/python bench/run.py [--backend sqlite|postgresql|both] [--quick]

For each backend: a fresh database, a token from ``scimhub token create``, users
and groups seeded in bulk with the store's own row-building code (bench/seed.py),
then ``python -m scimhub serve`` on a free port, measured by a closed-loop client
(bench/load.py) with a fixed number of requests per scenario and a time bound:

- GET /Users?filter=userName eq "<existing user>"
- GET /Users?filter=emails[type eq "work" and value eq "<existing email>"]
- POST /Users, each a new user (Entra's create body)
- PATCH /Groups/<id> adding one new member (Entra's body, 204) to a group of 100
  and to a group of 100,000 members (10,000 with --quick), by ``--concurrency``
  clients and by one client

The floor is bench/floor.py, a bare Starlette endpoint on uvicorn + uvloop +
httptools like ``scimhub serve``, sent the very same requests by the same client
in the same run. Timings never go into the unit tests (house rule); results go
to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from load import Outcome, Request, run_load
from options import add_database_options, chosen_backends
from report import Result, backend_report, describe_machine, raw_figures, results_header
from seed import seed_group, seed_users
from servers import (
    FreshDatabase,
    ServerProcess,
    machine_busy,
    postgres_cpu,
    scimhub_server,
    scimhub_token,
    script_server,
)
from workload import filter_requests, member_patches, user_creates

from scimhub.directory.actors import Actor
from scimhub.settings import Settings
from scimhub.wiring import build

BENCH = Path(__file__).resolve().parent
SMALL_GROUP = 100
FLOOR_REQUESTS = 10_000
"""The least number of requests a floor run sends (its scenario's requests, repeated)."""


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    users: int
    large_group: int
    gets: int
    """Measured requests of each GET scenario."""
    posts: int
    patches: int
    """Measured member adds per group with ``--concurrency`` clients."""
    serial_patches: int
    """Measured member adds per group with one client."""
    warmup: int
    """Unmeasured requests sent first, per scenario and per server."""
    time_limit: float
    """Seconds at most per measured run (scimhub and floor each)."""


FULL = Sizes(
    100_000, 100_000, gets=5_000, posts=2_000, patches=1_000, serial_patches=500, warmup=50, time_limit=90
)
QUICK = Sizes(
    10_000, 10_000, gets=2_000, posts=600, patches=300, serial_patches=200, warmup=20, time_limit=30
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Seeded:
    """What the measurements need to know of the seeded data."""

    user_names: list[str]
    small_group: str
    large_group: str


def _seed(database_url: str, sizes: Sizes) -> Seeded:
    services = build(Settings(database_url=database_url))
    try:
        with services.store.read() as tx:  # `token create` made it: the seeded rows name it as their actor
            admin = tx.users.get_by_name("admin")
        if admin is None:
            raise RuntimeError("`scimhub token create` left no user named admin")
        actor = Actor(admin.id, admin.urn)
        users = seed_users(services.store, actor, "seed", sizes.users)
        ids = [u.id for u in users]
        small = seed_group(services.groups, actor, f"Bench group of {SMALL_GROUP}", ids[:SMALL_GROUP])
        large = seed_group(
            services.groups, actor, f"Bench group of {sizes.large_group:,}", ids[: sizes.large_group]
        )
    finally:
        services.close()
    return Seeded([u.user_name for u in users], small.id, large.id)


def _get_requests(names: list[str], count: int, form: str, rng: random.Random) -> list[Request]:
    template = 'userName eq "{}"' if form == "userName" else 'emails[type eq "work" and value eq "{}"]'
    return filter_requests(template, rng.choices(names, k=count))


class _Bench:
    """Run each scenario against the floor, then against scimhub, with the same requests."""

    def __init__(
        self, database: FreshDatabase, server: ServerProcess, floor: ServerProcess, token: str, sizes: Sizes
    ) -> None:
        self.database, self.server, self.floor, self.token, self.sizes = database, server, floor, token, sizes
        self.results: list[Result] = []

    def measure(
        self,
        name: str,
        warmup: list[Request],
        requests: list[Request],
        clients: int,
        size: int | None = None,
        keep_bodies: bool = False,
    ) -> Outcome:
        # The floor answers in well under a millisecond: its run repeats the same
        # requests up to FLOOR_REQUESTS, so that it lasts long enough to be steady.
        floor_requests = requests * -(-FLOOR_REQUESTS // len(requests))
        floor, floor_cpu, floor_other = self._run(self.floor, warmup, floor_requests, clients, False)
        ours, server_cpu, ours_other = self._run(self.server, warmup, requests, clients, keep_bodies)
        database_cpu = ours_other.pop("database")
        result = Result(
            name,
            clients,
            size,
            ours,
            floor,
            server_cpu,
            floor_cpu,
            None if self.database.backend == "sqlite" else database_cpu,
            ours_other["other"],
            floor_other["other"],
        )
        self.results.append(result)
        _say(
            f"  {name} (×{clients}): {ours.throughput:,.0f} req/s, p50 {ours.percentile(50) * 1e3:.1f} ms, "
            f"p99 {ours.percentile(99) * 1e3:.1f} ms; floor {floor.throughput:,.0f} req/s; "
            f"other processes {result.other_cores:.2f} cores"
            + (f"; {ours.errors} ERRORS: {ours.error_samples}" if ours.errors else "")
            + ("; stopped at the time limit" if ours.stopped_early else "")
        )
        return ours

    def _run(
        self, process: ServerProcess, warmup: list[Request], requests: list[Request], clients: int, keep: bool
    ) -> tuple[Outcome, float, dict[str, float]]:
        """Warm up, then measure; return the outcome, the process's CPU and what else the machine spent."""
        limit = self.sizes.time_limit
        run_load(process.url, warmup, token=self.token, concurrency=clients, time_limit=limit)
        database = self.database.name
        before = (process.cpu_seconds(), postgres_cpu(database) if database else 0.0, machine_busy())
        outcome = run_load(
            process.url, requests, token=self.token, concurrency=clients, time_limit=limit, keep_bodies=keep
        )
        after = (process.cpu_seconds(), postgres_cpu(database) if database else 0.0, machine_busy())
        cpu, database_cpu, busy = (b - a for a, b in zip(before, after, strict=True))
        # What the machine spent beyond the client, the server and its database: other work sharing the cores.
        other = max(busy - outcome.client_cpu - cpu - database_cpu, 0.0)
        return outcome, cpu, {"database": database_cpu, "other": other}


def _run_backend(
    backend: str,
    sizes: Sizes,
    clients: int,
    floor: ServerProcess,
    workdir: Path,
    postgres_url: str,
    explain: bool,
) -> list[Result]:
    groups = f"groups of {SMALL_GROUP} and {sizes.large_group:,}"
    _say(f"\n{backend}: fresh database, {sizes.users:,} users, {groups}")
    database = FreshDatabase(backend, workdir, postgres_url)
    server = None
    try:
        token = scimhub_token(database.url)
        seeded = _seed(database.url, sizes)
        database.settle()
        server = scimhub_server(database.url, workdir / f"serve-{backend}.log")
        bench = _Bench(database, server, floor, token, sizes)
        rng, warm = random.Random(2), sizes.warmup
        for form, label in (
            ("userName", 'GET userName eq "…"'),
            ("emails", 'GET emails[type eq "work" and value eq "…"]'),
        ):
            warmup = _get_requests(seeded.user_names, warm, form, rng)
            bench.measure(label, warmup, _get_requests(seeded.user_names, sizes.gets, form, rng), clients)
        posts = user_creates("post", range(sizes.posts))
        created = bench.measure(
            "POST /Users (new user)", user_creates("warm", range(warm)), posts, clients, keep_bodies=True
        )
        # The users just created are the new members: in neither group yet, each added once per group.
        pool = [orjson.loads(body)["id"] for _, body in sorted(created.bodies.items()) if body]
        splits = ((clients, sizes.patches), (1, sizes.serial_patches))
        if len(pool) < sum(warm + count for _, count in splits):
            raise RuntimeError(f"only {len(pool)} users were created: too few new members to add")
        start = 0
        for patch_clients, count in splits:
            members = pool[start : start + warm + count]
            start += warm + count
            for group_id, size in (
                (seeded.small_group, SMALL_GROUP),
                (seeded.large_group, sizes.large_group),
            ):
                patches = member_patches(group_id, members)
                name = f"PATCH add 1 member, group of {size:,}"
                bench.measure(name, patches[:warm], patches[warm:], patch_clients, size=size)
        if explain:
            from explain import explain_scenarios

            middle = seeded.user_names[len(seeded.user_names) // 2]
            explain_scenarios(database.url, token, middle, seeded.large_group, pool[-1])
        return bench.results
    finally:
        if server is not None:
            server.stop()
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark scimhub over HTTP against a bare Starlette floor."
    )
    add_database_options(parser)
    parser.add_argument("--quick", action="store_true", help="10,000 users and groups, fewer requests")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument(
        "--explain", action="store_true", help="print the plan of every statement of each scenario"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    backends = chosen_backends(args)
    command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    machine = describe_machine(BENCH.parent, args.postgres_url if "postgresql" in backends else None)
    with tempfile.TemporaryDirectory(prefix="scimhub-bench-") as workdir:
        floor = script_server(BENCH / "floor.py", Path(workdir) / "floor.log")
        try:
            reports = {
                backend: _run_backend(
                    backend, sizes, args.concurrency, floor, Path(workdir), args.postgres_url, args.explain
                )
                for backend in backends
            }
        finally:
            floor.stop()
    print(results_header(command, machine))
    for backend, results in reports.items():
        print(backend_report(backend, results))
    if args.json:
        args.json.write_text(json.dumps(raw_figures(command, machine, asdict(sizes), reports), indent=2))


if __name__ == "__main__":
    main()
