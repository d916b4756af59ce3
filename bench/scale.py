"""Scale: scimhub's latency, CPU and memory on a million users, on SQLite and on PostgreSQL.

    .venv/bin/python bench/scale.py [--backend sqlite|postgresql|both] [--users N] [--members N]
                                    [--quick] [--clients 1,8] [--explain] [--json FILE]

Issue 5 sets targets at scale: at 1,000,000 users a ``userName eq`` lookup
within 5 ms of server time (p99), deep paging within 50 ms, the server under
300 MB of memory, and adding or removing one member of a 100,000-member group
no more than 1.5 times as slow (p99) as for a group of 100. bench/run.py
measures throughput on 100,000 users; this measures what grows with the data.

For each backend: a fresh database and a token (as run.py), then bench/bulk.py
generates the users and two groups (100 members, and ``--members``) in bulk SQL
from rows the server wrote itself, and bench/fidelity.py checks them against a
real ``POST /Users`` and ``PATCH`` on the running server. Then ``python -m
scimhub serve`` (as run.py starts it) is measured by bench/load.py's client,
one connection by default, so latency is one request alone; each scenario
reports the client's p50/p99, the server's own p50/p99 (the ``ms`` of its access
log: from the request reaching the application to its last byte handed to
uvicorn) and the server's CPU per request. The server's memory (VmRSS, and
VmHWM, its peak) is read from /proc at start, after the lookups, around each
full read of the large group, and at the end.

Everything it starts it stops: the server, the SQLite file in a temporary
directory, the ``scimhub_bench_<random>`` PostgreSQL database.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
from bulk import ScaleData, generate
from explain import explain_requests
from fidelity import check_generated
from load import Request, run_load
from options import add_database_options, chosen_backends
from report import describe_machine, results_header
from scale_report import MB, BackendRun, Figure, FullRead, backend_report, raw_figures
from servers import FreshDatabase, ServerProcess, scimhub_server, scimhub_token, spent_during
from sqlalchemy import create_engine, text
from workload import SCIM, filter_requests, member_patches, search

from scimhub.scim.messages import ScimRequest

BENCH = Path(__file__).resolve().parent
SMALL_GROUP = 100


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    users: int
    members: int
    """The large group's members, at most: capped so that ``patches`` users stay outside it."""
    lookups: int
    """Measured requests of each lookup scenario, and of the group read without members."""
    pages: int
    """Measured requests of each paging scenario."""
    patches: int
    """Measured member adds, then removes, per group."""
    full_reads: int
    """Reads of the large group with all its members (each is timed and its memory recorded)."""
    warmup: int
    time_limit: float
    """Seconds at most per measured run."""


FULL = Sizes(
    1_000_000, 100_000, lookups=2_000, pages=100, patches=500, full_reads=3, warmup=50, time_limit=60
)
QUICK = Sizes(20_000, 100_000, lookups=500, pages=100, patches=200, full_reads=3, warmup=20, time_limit=30)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _AccessLog:
    """The server's access log, where it records each request's own duration (``ms``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """Return where the log ends now."""
        return self.path.stat().st_size

    def durations_since(self, mark: int, expected: int) -> list[float]:
        """Return the ``ms`` of each request logged after ``mark``, waiting a little for the last lines.

        The server writes a request's line once it has answered, so the client may hear first.
        """
        deadline = time.monotonic() + 5
        while True:
            with self.path.open("rb") as log:
                log.seek(mark)
                lines = log.read().splitlines()
            found = [orjson.loads(line) for line in lines if b'"scimhub.access"' in line]
            if len(found) >= expected or time.monotonic() > deadline:
                return [float(entry["ms"]) / 1e3 for entry in found]
            time.sleep(0.05)


class _Bench:
    """Measure scenarios against one running server."""

    def __init__(
        self, run: BackendRun, server: ServerProcess, log: Path, database: str, token: str, sizes: Sizes
    ) -> None:
        self.run, self.server, self.database, self.token, self.sizes = run, server, database, token, sizes
        self.log = _AccessLog(log)

    def measure(
        self,
        name: str,
        warmup: list[Request],
        requests: list[Request],
        clients: int,
        group_size: int | None = None,
    ) -> Figure:
        """Warm up, then send ``requests`` measured; record the figures and print a line."""
        limit = self.sizes.time_limit
        if warmup:
            run_load(self.server.url, warmup, token=self.token, concurrency=clients, time_limit=limit)
        mark = self.log.mark()
        o, spent = spent_during(
            self.server,
            self.database,
            lambda: run_load(
                self.server.url, requests, token=self.token, concurrency=clients, time_limit=limit
            ),
        )
        figure = Figure(name, clients, o, spent, self.log.durations_since(mark, o.count), group_size)
        self.run.figures.append(figure)
        _say(
            f"  {name} (×{clients}): {o.count:,} requests, p50 {o.percentile(50) * 1e3:.2f} ms, "
            f"p99 {o.percentile(99) * 1e3:.2f} ms; server p99 {figure.server_percentile(99) * 1e3:.2f} ms, "
            f"CPU {figure.cpu_ms(spent.server):.2f} ms/req"
            + (f"; {o.errors} ERRORS: {o.error_samples}" if o.errors else "")
            + ("; stopped at the time limit" if o.stopped_early else "")
        )
        return figure

    def remember_memory(self, moment: str) -> None:
        """Record the server's resident memory now, and its peak so far."""
        self.run.memory[moment] = (self.server.rss_bytes(), self.server.peak_rss_bytes())

    def full_read(self, group_id: str) -> FullRead:
        """Read the group with every member once, recording time and the server's memory around it."""
        request = Request("GET", f"{SCIM}/Groups/{group_id}")
        rss_before = self.server.rss_bytes()
        mark = self.log.mark()
        outcome = run_load(
            self.server.url, [request], token=self.token, concurrency=1, time_limit=600, keep_bodies=True
        )
        server_seconds = self.log.durations_since(mark, 1)
        body = outcome.bodies.get(0, b"")
        read = FullRead(
            outcome.latencies[0],
            server_seconds[0] if server_seconds else float("nan"),
            len(body),
            outcome.errors,
            rss_before,
            self.server.rss_bytes(),
            self.server.peak_rss_bytes(),
        )
        self.run.full_reads.append(read)
        memory = (
            f"{read.rss_before / MB:.0f} → {read.rss_after / MB:.0f} MB, peak {read.peak_after / MB:.0f} MB"
        )
        _say(
            f"  GET /Groups/<{self.run.data.large_size:,} members>: {read.seconds:.2f} s, "
            f"{read.body_bytes:,} bytes, RSS {memory}"
            + (f"; ERROR {outcome.error_samples}" if outcome.errors else "")
        )
        return read


def _scenarios(
    bench: _Bench, data: ScaleData, sizes: Sizes, clients_list: list[int], pool: list[str]
) -> None:
    """Run every scenario, with each number of clients."""
    rng, warm, n = random.Random(5), sizes.warmup, data.users

    def lookups(template: str, value: Callable[[int], str], count: int) -> list[Request]:
        return filter_requests(template, (value(i) for i in (rng.randrange(n) for _ in range(count))))

    deep = int(n * 0.9)
    for clients in clients_list:
        for name, template, value in (
            ('GET userName eq "…"', 'userName eq "{}"', data.user_name),
            ('GET externalId eq "…"', 'externalId eq "{}"', data.external_id),
            (
                'GET emails[type eq "work" and value eq "…"]',
                'emails[type eq "work" and value eq "{}"]',
                data.user_name,
            ),
        ):
            bench.measure(
                name, lookups(template, value, warm), lookups(template, value, sizes.lookups), clients
            )
        for name, start, sort in (
            ("shallow", 1, True),
            ("deep", deep, True),
            ("deep, unsorted", deep, False),
        ):
            page = search("Users", **({"sortBy": "userName"} if sort else {}), startIndex=start, count=100)
            sorted_by = "sortBy=userName " if sort else ""
            bench.measure(
                f"GET {sorted_by}startIndex={start:,} count=100 ({name})",
                [page] * min(warm, 5),
                [page] * sizes.pages,
                clients,
            )
        terse = search(f"Groups/{data.large_group}", excludedAttributes="members")
        bench.measure(
            f"GET /Groups/<{data.large_size:,} members>?excludedAttributes=members",
            [terse] * warm,
            [terse] * sizes.lookups,
            clients,
        )
    bench.remember_memory("after the lookups")
    for clients in clients_list:
        for group_id, size in ((data.small_group, data.small_size), (data.large_group, data.large_size)):
            # The same users are added, then removed again: the group ends as it began.
            for op in ("Add", "Remove"):
                patches = member_patches(group_id, pool, op)
                bench.measure(
                    f"PATCH {op.lower()} 1 member, group of {size:,}",
                    patches[:warm],
                    patches[warm:],
                    clients,
                    size,
                )
    bench.remember_memory("after the member changes")
    for _ in range(sizes.full_reads):
        bench.full_read(data.large_group)
    bench.remember_memory("at the end")


def _database_bytes(database: FreshDatabase) -> int:
    if database.backend == "sqlite":
        path = Path(database.url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        engine.dispose()


def _explain(database_url: str, token: str, data: ScaleData, member: str) -> None:
    """Print the plan of every statement of each scenario, run once in-process (bench/explain.py)."""
    deep = int(data.users * 0.9)
    requests = [
        *filter_requests('userName eq "{}"', [data.user_name(deep)]),
        *filter_requests('externalId eq "{}"', [data.external_id(deep)]),
        *filter_requests('emails[type eq "work" and value eq "{}"]', [data.user_name(deep)]),
        search("Users", sortBy="userName", startIndex=1, count=100),
        search("Users", sortBy="userName", startIndex=deep, count=100),
        search("Users", startIndex=deep, count=100),
        search(f"Groups/{data.large_group}", excludedAttributes="members"),
        *member_patches(data.large_group, [member], "Add"),
        *member_patches(data.large_group, [member], "Remove"),
    ]
    labelled = []
    for request in requests:
        parts = urlsplit(request.path)
        path = parts.path.removeprefix(SCIM)
        scim = ScimRequest(
            request.method, path, "http://bench" + SCIM, dict(parse_qsl(parts.query)), body=request.body
        )
        labelled.append((f"{request.method} {unquote(request.path)}", scim))
    explain_requests(database_url, token, labelled)


def _run_backend(
    backend: str, sizes: Sizes, clients_list: list[int], workdir: Path, postgres_url: str, explain: bool
) -> BackendRun:
    pool_size = sizes.warmup + sizes.patches
    large = min(sizes.members, sizes.users - pool_size)
    _say(f"\n{backend}: fresh database, {sizes.users:,} users, groups of {SMALL_GROUP} and {large:,} members")
    database = FreshDatabase(backend, workdir, postgres_url)
    server = None
    try:
        token = scimhub_token(database.url)
        data = generate(database.url, sizes.users, SMALL_GROUP, large)
        _say("  generated: " + ", ".join(f"{step} {s:.1f} s" for step, s in data.seconds.items()))
        started = time.monotonic()
        database.settle()
        settled = time.monotonic() - started
        log = workdir / f"serve-{backend}.log"
        server = scimhub_server(database.url, log)
        started = time.monotonic()
        checks = check_generated(server.url, token, database.url, data)
        checks.append(f"the check took {time.monotonic() - started:.1f} s")
        _say("  faithful: " + "; ".join(checks))
        run = BackendRun(backend, data, settled, _database_bytes(database), checks)
        bench = _Bench(run, server, log, database.name, token, sizes)
        bench.remember_memory("after start and the check")
        # Users in neither group: each is added to a group, then removed from it again.
        pool = [data.user_id(i) for i in range(sizes.users - pool_size, sizes.users)]
        _scenarios(bench, data, sizes, clients_list, pool)
        if explain:
            _explain(database.url, token, data, pool[0])
        return run
    finally:
        if server is not None:
            server.stop()
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--quick", action="store_true", help="20,000 users, fewer requests")
    parser.add_argument(
        "--users", type=int, help="users to generate (default 1,000,000; 20,000 with --quick)"
    )
    parser.add_argument(
        "--members", type=int, help="members of the large group (default 100,000, capped by users)"
    )
    parser.add_argument(
        "--clients", default="1", help="connections, comma-separated: each runs every scenario"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plan of every statement of each scenario"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes = replace(sizes, users=args.users or sizes.users, members=args.members or sizes.members)
    clients_list = [int(c) for c in args.clients.split(",")]
    backends = chosen_backends(args)
    command = " ".join([".venv/bin/python bench/scale.py", *sys.argv[1:]])
    machine = describe_machine(BENCH.parent, args.postgres_url if "postgresql" in backends else None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scimhub-scale-") as workdir:
        runs = [
            _run_backend(backend, sizes, clients_list, Path(workdir), args.postgres_url, args.explain)
            for backend in backends
        ]
    print(results_header(command, machine))
    print(f"Run time: {time.monotonic() - started:.0f} s.\n")
    for run in runs:
        print(backend_report(run))
    if args.json:
        args.json.write_text(json.dumps(raw_figures(command, machine, asdict(sizes), runs), indent=2))


if __name__ == "__main__":
    main()
