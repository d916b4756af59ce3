"""The Entra-cycle benchmark: an Entra provisioning cycle against scimhub, the floor and a peer.

    .venv/bin/pip install -r bench/requirements.txt    # the peer, scim2-server, for the benchmarks only
    .venv/bin/python bench/entra_cycle.py [--backend sqlite|postgresql|both] [--quick | --large] [--users N]
        [--clients 8] [--workers 1] [--batch 100] [--groups N] [--changed-groups N]
        [--group-body tutorial|core] [--no-peer] [--json FILE]

Issue 5 asks for Entra's traffic, not single requests: what a tenant's initial
cycle costs (10,000 users, 200 groups and 50,000 memberships with 8 clients in
under 60 s on SQLite) and how an incremental cycle runs. The requests are
bench/entra_traffic.py's scripts, Entra's exact bodies, each request able to
use an earlier answer (a POST's id for the PATCHes after it). Every cycle starts
on an empty server, with a few Test Connection probes before the clock, then
three measured phases: the initial cycle's users, its groups and memberships,
and an incremental cycle.

The same client (bench/load.py's ``run_scripts``, ``--clients`` connections)
runs the same cycle against three servers, one after the other, in the same
run, each started fresh with the same uvicorn settings and ``--workers``:

- the **floor**, bench/floor.py: a bare Starlette endpoint, the limit of this stack;
- the **peer**, bench/peer.py: python-scim's scim2-server (its ASGI application,
  in memory), the best Python SCIM server issue 5 found. Its wrong answers to
  Entra's dialect are counted and shown and its ratios flagged, never worked
  around: it refuses the group creation of Microsoft's tutorial, so only
  ``--group-body core`` (another body Entra is seen sending, sent to every
  server alike) lets it go on to the memberships;
- **scimhub**, ``python -m scimhub serve`` on a fresh SQLite or PostgreSQL database.

It prints a Markdown report: per phase and per server the requests, wall time,
req/s, p50/p99 and errors, each server's CPU per request and memory, and
scimhub's throughput ÷ the floor's and ÷ the peer's. Timings never go into the
unit tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path

from cycle_report import Cycle, Phase, cycle_report, raw_cycles
from entra_traffic import (
    DataSet,
    Plan,
    Provisioned,
    connection_tests,
    group_creation,
    incremental_cycle,
    user_creation,
)
from load import Script, run_scripts
from options import add_database_options, chosen_backends
from peer import PREFIX as PEER_PREFIX
from peer import READY_PATH as PEER_READY_PATH
from report import describe_machine, results_header
from servers import FreshDatabase, ServerProcess, scimhub_server, scimhub_token, script_server, spent_during
from workload import SCIM  # scimhub's SCIM root; the floor answers any path, so it is sent the same

BENCH = Path(__file__).resolve().parent
PROBES = 25
"""Test Connection probes sent first, unmeasured: Entra's own start, and the servers' warm-up."""

FULL = DataSet(
    users=10_000,
    groups=200,
    memberships=50_000,
    batch=100,
    changed_users=1_000,
    deactivated_users=200,
    changed_groups=50,
    member_changes=10,
)
"""Issue 5's target tenant."""
LARGE = DataSet(
    users=100_000,
    groups=1_000,
    memberships=250_000,
    batch=100,
    changed_users=10_000,
    deactivated_users=2_000,
    changed_groups=250,
    member_changes=10,
)
"""Issue 15's tenant."""
TARGETS = {
    "FULL": ("Issue 5", {"sqlite": 60.0}),
    "LARGE": ("Issue 15", {"sqlite": 120.0, "postgresql": 240.0}),
}
"""The initial cycle's limit in seconds with 8 clients, by data set and backend."""
QUICK = DataSet(
    users=1_000,
    groups=20,
    memberships=5_000,
    batch=100,
    changed_users=100,
    deactivated_users=20,
    changed_groups=5,
    member_changes=10,
)


MIN_USERS = 100
"""The fewest users ``--users`` takes: the incremental cycle draws 40 users to add to a group."""


def _scaled(data: DataSet, users: int) -> DataSet:
    """Return ``data`` for ``users`` users: groups, memberships and changes in the same proportions."""
    factor = users / data.users
    groups = max(round(data.groups * factor), 1)
    return replace(
        data,
        users=users,
        groups=groups,
        memberships=min(round(data.memberships * factor), groups * users),  # a group holds each user once
        changed_users=round(data.changed_users * factor),
        deactivated_users=round(data.deactivated_users * factor),
        changed_groups=min(max(round(data.changed_groups * factor), 1), groups),
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Settings:
    """What every cycle of a run shares."""

    data: DataSet
    plan: Plan
    token: str
    """scimhub's token; the floor ignores it and the peer accepts any, so all three are sent it."""
    clients: int
    time_limit: float
    """Seconds after which a phase starts no new script."""


def _phase(name: str, server: ServerProcess, scripts: list[Script], run: _Settings, database: str) -> Phase:
    """Run one phase's scripts; return it with what the server, its database and the machine spent."""
    outcome, spent = spent_during(
        server,
        database,
        lambda: run_scripts(
            server.url, scripts, token=run.token, concurrency=run.clients, time_limit=run.time_limit
        ),
    )
    _say(
        f"  {name}: {outcome.count:,} requests in {outcome.elapsed:.1f} s, {outcome.throughput:,.0f} req/s, "
        f"p50 {outcome.percentile(50) * 1e3:.1f} ms, p99 {outcome.percentile(99) * 1e3:.1f} ms, "
        f"{outcome.errors:,} errors" + ("; stopped at the time limit" if outcome.stopped_early else "")
    )
    database_cpu = spent.database if database else None
    return Phase(name, outcome, spent.server, database_cpu, spent.other, server.rss_bytes())


def _cycle(name: str, server: ServerProcess, prefix: str, run: _Settings, database: str = "") -> Cycle:
    """Provision the data set on ``server`` as Entra would: probes, initial cycle, incremental cycle."""
    _say(f" {name} ({server.url})")
    ids = Provisioned()
    run_scripts(
        server.url, connection_tests(prefix, run.plan, PROBES), token=run.token, concurrency=run.clients
    )
    # Each phase's scripts are built when the one before has ended: they name the ids it was given.
    phases = [_phase("initial: users", server, user_creation(prefix, run.data, ids), run, database)]
    groups = group_creation(prefix, run.data, run.plan, ids)
    phases.append(_phase("initial: groups and members", server, groups, run, database))
    changes = incremental_cycle(prefix, run.data, run.plan, ids)
    phases.append(_phase("incremental", server, changes, run, database))
    return Cycle(name, phases, server.peak_rss_bytes())


def _run_backend(backend: str, args: argparse.Namespace, data: DataSet, workdir: Path) -> dict[str, Cycle]:
    """Run the cycle against the floor, the peer and scimhub on a fresh ``backend`` database."""
    _say(f"\n{backend}: {data.users:,} users, {data.groups:,} groups, {data.memberships:,} memberships")
    database = FreshDatabase(backend, workdir, args.postgres_url)
    try:
        token = scimhub_token(database.url)  # before any cycle: every server is sent the same headers
        run = _Settings(data, data.draw_plan(), token, args.clients, 120.0 if args.quick else 900.0)
        workers = args.workers
        cycles: dict[str, Cycle] = {}
        floor = script_server(BENCH / "floor.py", workdir / "floor.log", workers)
        try:
            cycles["floor"] = _cycle("floor", floor, SCIM, run)
        finally:
            floor.stop()
        if not args.no_peer:
            peer = script_server(BENCH / "peer.py", workdir / "peer.log", workers, PEER_READY_PATH)
            try:
                cycles["peer"] = _cycle("peer (scim2-server)", peer, PEER_PREFIX, run)
            finally:
                peer.stop()
        server = scimhub_server(database.url, workdir / f"serve-{backend}.log", workers)
        try:
            cycles["scimhub"] = _cycle("scimhub", server, SCIM, run, database.name)
        finally:
            server.stop()
        return cycles
    finally:
        database.drop()


def _peer_version() -> str:
    return f"scim2-server {version('scim2-server')} (its ASGI application over AsyncInMemoryStorage)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Run an Entra provisioning cycle against scimhub, a bare Starlette floor and "
        "python-scim's scim2-server (the peer). The peer is installed for the benchmarks only: "
        ".venv/bin/pip install -r bench/requirements.txt (or pass --no-peer).",
    )
    add_database_options(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1,000 users, 20 groups, 5,000 memberships (default: 10 times that)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="100,000 users, 1,000 groups, 250,000 memberships: issue 15's tenant (2 and 4 minutes at most)",
    )
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent connections, as Entra's workers (default 8)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of every server (default 1); "
        "the peer keeps its resources per process, so it answers wrongly with more than one",
    )
    parser.add_argument(
        "--batch", type=int, help="members per PATCH of the initial cycle (default 100; Entra documents none)"
    )
    parser.add_argument(
        "--users",
        type=int,
        help="users of the tenant; its groups, memberships and incremental changes scale with them "
        "(between two sizes, or to compare trees in less time than --large)",
    )
    parser.add_argument(
        "--groups",
        type=int,
        help="groups of the tenant, its memberships spread over them (default 200, or 20 with --quick); "
        "fewer groups make larger ones, where a server's cost per member shows",
    )
    parser.add_argument(
        "--changed-groups", type=int, help="groups the incremental cycle changes (default 50 / 5)"
    )
    parser.add_argument(
        "--group-body",
        choices=["tutorial", "core"],
        default="tutorial",
        help="the group creation every server is sent: Microsoft's tutorial body, with its second schema "
        "URI (default; scim2-server refuses it), or the core-schema-only one a tenant captured "
        "(Microsoft Q&A 637791)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (scim2-server not installed)")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args()
    if not args.no_peer and importlib.util.find_spec("scim2_server") is None:
        parser.error(
            "the peer is not installed: .venv/bin/pip install -r bench/requirements.txt, or --no-peer"
        )
    if args.quick and args.large:
        parser.error("--quick and --large are two sizes: choose one")
    size = "QUICK" if args.quick else "LARGE" if args.large else "FULL"
    data = {"QUICK": QUICK, "FULL": FULL, "LARGE": LARGE}[size]
    if args.users is not None and args.users < MIN_USERS:
        parser.error(f"--users must be at least {MIN_USERS}")
    if args.users:
        data, size = _scaled(data, args.users), "SCALED"  # no issue's limit is set for another size
    chosen = {"batch": args.batch, "groups": args.groups, "changed_groups": args.changed_groups}
    data = DataSet(
        **{**asdict(data), "group_body": args.group_body, **{k: v for k, v in chosen.items() if v}}
    )
    backends = chosen_backends(args)
    command = " ".join([".venv/bin/python bench/entra_cycle.py", *sys.argv[1:]])
    machine = describe_machine(BENCH.parent, args.postgres_url if "postgresql" in backends else None)
    if not args.no_peer:
        machine["peer"] = _peer_version()
    machine["load"] = (
        f"{args.clients} client connections; every server with {args.workers} worker process(es)"
    )
    if args.workers > 1 and not args.no_peer:
        machine["load"] += " (the peer's resources live in each worker: it cannot answer right with several)"
    with tempfile.TemporaryDirectory(prefix="scimhub-entra-") as workdir:
        reports = {backend: _run_backend(backend, args, data, Path(workdir)) for backend in backends}
    print(results_header(command, machine))
    for backend, cycles in reports.items():
        whose, limits = TARGETS.get(size, ("", {}))
        limit = limits.get(backend) if args.clients == 8 else None
        print(cycle_report(backend, cycles, data, (whose, limit) if limit is not None else None))
    if args.json:
        args.json.write_text(json.dumps(raw_cycles(command, machine, asdict(data), reports), indent=2))


if __name__ == "__main__":
    main()
