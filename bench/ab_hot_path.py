"""Two versions of the server on the hot path, alternated round by round on one database.

    .venv/bin/python bench/ab_hot_path.py --before /tmp/a/src --after /tmp/b/src [--backend sqlite]
        [--scenario lookup|create] [--users 10000] [--rounds 8] [--requests 2000] [--concurrency 8]

Each tree (e.g. ``git archive <commit> src | tar -x -C /tmp/a``) is served by
its own ``python -m scimhub serve``, imported first through ``PYTHONPATH``, on
one seeded database. Each round sends the same ``GET /Users?filter=userName eq
"…"`` requests (``lookup``), or as many ``POST /Users`` with Entra's body and a
new userName each (``create``), to one, then the other (the order swapped every
round), so that the load other processes put on a shared machine falls on both alike. It prints
the median over rounds of the server's CPU per request, req/s, p50 and p99, and
the ratios after ÷ before. The rate limits are raised out of reach
(``SCIMHUB_RATE_LIMIT_*``): they do all their work and refuse nothing.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
from pathlib import Path

from load import Request, run_load
from options import add_database_options
from seed import seed_users
from servers import FreshDatabase, ServerProcess, scimhub_server, scimhub_token
from workload import filter_requests, user_creates

from scimhub.directory.actors import Actor
from scimhub.settings import Settings
from scimhub.wiring import build

SCENARIOS = {"lookup": "GET userName eq", "create": "POST /Users"}
NEVER_REFUSE = {"SCIMHUB_RATE_LIMIT_PER_TOKEN": "1000000", "SCIMHUB_RATE_LIMIT_PER_ADDRESS": "1000000"}


def _seed(database_url: str, users: int) -> list[str]:
    services = build(Settings(database_url=database_url))
    try:
        with services.store.read() as tx:
            admin = tx.users.get_by_name("admin")
        assert admin is not None, "`scimhub token create` made no admin"
        return [u.user_name for u in seed_users(services.store, Actor(admin.id, admin.urn), "ab", users)]
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--before", required=True, help="the source tree (its src/) measured first")
    parser.add_argument("--after", required=True)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="lookup")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    backend = "sqlite" if args.backend == "both" else args.backend
    with tempfile.TemporaryDirectory(prefix="scimhub-ab-") as workdir:
        database = FreshDatabase(backend, Path(workdir), args.postgres_url)
        servers: dict[str, ServerProcess] = {}
        try:
            token = scimhub_token(database.url)
            names = _seed(database.url, args.users)
            database.settle()
            for label, source in (("before", args.before), ("after", args.after)):
                log = Path(workdir) / f"{label}.log"
                servers[label] = scimhub_server(database.url, log, env={**NEVER_REFUSE, "PYTHONPATH": source})
            rng = random.Random(11)
            new_users = itertools.count()  # a create's userName is never taken: a 409 is no measure

            def requests_of(count: int) -> list[Request]:
                if args.scenario == "create":
                    return user_creates("abnew", itertools.islice(new_users, count))
                return filter_requests('userName eq "{}"', rng.choices(names, k=count))

            figures: dict[str, list[tuple[float, float, float, float]]] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
                shared = requests_of(args.requests) if args.scenario == "lookup" else None  # both send them
                for label in order:
                    server = servers[label]
                    requests = shared or requests_of(args.requests)
                    warmup = requests[:50] if shared else requests_of(50)  # a create cannot be sent twice
                    run_load(server.url, warmup, token=token, concurrency=args.concurrency)
                    cpu = server.cpu_seconds()
                    outcome = run_load(server.url, requests, token=token, concurrency=args.concurrency)
                    if outcome.errors:
                        raise RuntimeError(f"{label}: {outcome.errors} errors: {outcome.error_samples}")
                    spent = (server.cpu_seconds() - cpu) / outcome.count * 1e3
                    figures[label].append(
                        (
                            spent,
                            outcome.throughput,
                            outcome.percentile(50) * 1e3,
                            outcome.percentile(99) * 1e3,
                        )
                    )
                    said = (
                        f"round {round_ + 1} {label}: {spent:.3f} ms CPU/req, {outcome.throughput:,.0f} req/s"
                    )
                    print(said, file=sys.stderr, flush=True)
        finally:
            for server in servers.values():
                server.stop()
            database.drop()
    medians = {k: [statistics.median(f[i] for f in v) for i in range(4)] for k, v in figures.items()}
    print(
        f"{backend}, {args.users:,} users, {SCENARIOS[args.scenario]}, {args.concurrency} clients, "
        f"{args.rounds} rounds of {args.requests:,} requests each, medians:"
    )
    print("| server | CPU ms/req | req/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: |")
    for label, (cpu, rps, p50, p99) in medians.items():
        print(f"| {label} | {cpu:.3f} | {rps:,.0f} | {p50:.2f} | {p99:.1f} |")
    ratios = [a / b for a, b in zip(medians["after"], medians["before"], strict=True)]
    print(f"| after ÷ before | {ratios[0]:.3f} | {ratios[1]:.3f} | {ratios[2]:.3f} | {ratios[3]:.3f} |")


if __name__ == "__main__":
    main()
