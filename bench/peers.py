"""scimhub side by side with scim2-server and the bare-Starlette floor, over wrk, alternated (issue 15).

    .venv/bin/python bench/peers.py [--backend sqlite|postgresql|both] [--users 1000] [--seconds 5]
        [--rounds 2] [--connections 16] [--workers 1] [--scenarios lookup,create,mix] [--client-cpu 1]
        [--no-peer] [--json FILE]

What it starts, each fresh and with ``scimhub serve``'s uvicorn settings (bench/serving.py):

- **scimhub** in its default configuration (access log, metrics, request ids and rate limits on),
  ``python -m scimhub serve`` on a new SQLite file or PostgreSQL database, one process, or
  ``--workers 1,2`` to measure one against two processes in the same run;
- **the peer**, python-scim's scim2-server (bench/peer.py), in a virtual environment of its own
  under ``$XDG_CACHE_HOME/scimhub-bench`` (``~/.cache`` by default), made on first use from
  bench/requirements.txt, never in the project's;
- **the floor** (bench/floor.py), a bare Starlette endpoint.

Each SCIM server is loaded with ``--users`` users (Entra's create body) and 20 groups by HTTP, the
same requests for both. Then every scenario runs as rounds: in each round each server gets one wrk
run of ``--seconds`` (the order reversed every other round, ABBA, so that what other processes do
on a shared machine falls on all alike), after a one-second warm-up. The scenarios are the Lua
scripts of bench/wrk/: ``lookup`` (``GET /Users?filter=userName eq``), ``create`` (``POST /Users``,
a new userName each time) and ``mix`` (an Entra-like mix of lookups, creates, attribute PATCHes and
member adds). wrk (Debian's; installed with apt-get if missing) runs one thread and
``--connections`` keep-alive connections, **pinned with taskset to CPU ``--client-cpu``**, so that
it never takes more than one core from the servers; the servers are not pinned.

It prints, per scenario and server, the median over rounds of req/s, p50 and p99 (wrk's), the
server's CPU per request (utime + stime of its process tree from /proc, all threads, around each
run), PostgreSQL's backends' CPU per request, the responses that were not 2xx (any makes the figure
suspect: a refused request is cheaper than a served one), and the ratios scimhub ÷ peer and
scimhub ÷ floor; and the CPU other processes took meanwhile (the machine is shared). For several
processes it lists how wrk's connections fell between them in each run (read with ``ss``): the
kernel hands a burst of new connections to whichever process accepts first, and a run whose 16
connections all went to one process measures one process.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from options import add_database_options, chosen_backends
from peer import PREFIX as PEER_PREFIX
from peer import READY_PATH as PEER_READY
from seed import user_body
from servers import (
    FreshDatabase,
    ServerProcess,
    machine_busy,
    postgres_cpu,
    scimhub_server,
    scimhub_token,
    script_server,
)
from workload import SCIM

BENCH = Path(__file__).resolve().parent
WRK_DIR = BENCH / "wrk"
TAG = "peers"
"""The batch name of the loaded users (bench/seed.py's ``user_name``), which the Lua scripts draw from."""
GROUPS = 20
SCENARIOS = ("lookup", "create", "mix")


@dataclass
class Run:
    """One wrk run against one server."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    not_2xx: int
    server_cpu_ms: float
    """The server's CPU per request (all its processes and threads)."""
    database_cpu_ms: float
    other_cores: float
    """The cores the rest of the machine (neither the server, nor its database, nor wrk) kept busy."""
    spread: str = ""
    """wrk's connections per server process, half-way through the run (e.g. "9+7"): the kernel
    hands a burst of new connections to whichever process accepts first, so two processes may
    serve 16 connections as 16+0."""


@dataclass
class Target:
    """A server under test: how to reach its SCIM base, and how to authenticate."""

    label: str
    process: ServerProcess
    prefix: str
    database: str = ""
    token: str | None = None
    user_ids: Path | None = None
    group_ids: Path | None = None


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def peer_python() -> Path:
    """Return the Python of the peer's own virtual environment, made on first use (not in the repo)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scimhub-bench" / "peer-venv"
    python = cache / "bin" / "python"
    probe = [str(python), "-c", "import scim2_server, scimhub, uvloop, httptools"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"making the peer's environment in {cache}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(cache)], check=True)
    # scimhub itself too: bench/serving.py serves the peer with ``scimhub serve``'s uvicorn settings.
    install = ["-m", "pip", "install", "-q", "-e", str(BENCH.parent), "-r", str(BENCH / "requirements.txt")]
    subprocess.run([str(python), *install], check=True)
    return python


def _client(target: Target) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(urlsplit(target.process.url).netloc, timeout=30)


def _send(
    connection: http.client.HTTPConnection, target: Target, method: str, path: str, body: object
) -> dict:
    headers = {"Content-Type": "application/scim+json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    connection.request(method, target.prefix + path, orjson.dumps(body), headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 201:
        raise RuntimeError(f"{target.label}: {method} {path} answered {response.status}: {data[:300]!r}")
    return orjson.loads(data)


def load(target: Target, users: int, workdir: Path) -> None:
    """Create ``users`` users and the groups over HTTP; write their ids for the Lua scripts."""
    connection = _client(target)
    user_ids = [_send(connection, target, "POST", "/Users", user_body(TAG, i))["id"] for i in range(users)]
    group_ids = []
    for index in range(GROUPS):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"peers {index}"}
        group_ids.append(_send(connection, target, "POST", "/Groups", {**body, "members": []})["id"])
    connection.close()
    _write_ids(target, workdir, user_ids, group_ids)


def _write_ids(target: Target, workdir: Path, user_ids: list[str], group_ids: list[str]) -> None:
    target.user_ids, target.group_ids = workdir / f"{target.label}.users", workdir / f"{target.label}.groups"
    target.user_ids.write_text("\n".join(user_ids) + "\n")
    target.group_ids.write_text("\n".join(group_ids) + "\n")


def check_lookup(target: Target) -> None:
    """Make sure a loaded user is found by ``userName eq`` (one result), so the lookups measure a hit."""
    connection = _client(target)
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    path = f"{target.prefix}/Users?filter=userName%20eq%20%22{TAG}.user0000007%40contoso.example%22"
    connection.request("GET", path, headers=headers)
    found = orjson.loads(connection.getresponse().read())
    connection.close()
    if found.get("totalResults") != 1:
        raise RuntimeError(f"{target.label}: the lookup found {found}")


_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(wrk_path: str, target: Target, scenario: str, seconds: int, args: argparse.Namespace) -> Run:
    """Run wrk once against ``target``; return what it and /proc measured."""
    env = {
        **os.environ,
        "WRK_DIR": str(WRK_DIR),
        "SCIM_PREFIX": target.prefix,
        "USER_TAG": TAG,
        "USERS": str(args.users),
        "RUN_TAG": uuid.uuid4().hex[:8],
        "USER_IDS": str(target.user_ids or ""),
        "GROUP_IDS": str(target.group_ids or ""),
        "CREATE_BODY": orjson.dumps(user_body(TAG, 0))
        .decode()
        .replace(f"{TAG}.user0000000@contoso.example", "@NAME@"),
    }
    command = ["taskset", "-c", str(args.client_cpu), wrk_path, "-t1", f"-c{args.connections}"]
    command += [f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", str(WRK_DIR / f"{scenario}.lua")]
    if target.token:
        command += ["-H", f"Authorization: Bearer {target.token}"]
    before_cpu, before_db, busy = target.process.cpu_seconds(), _db_cpu(target), machine_busy()
    started = os.times()
    running = subprocess.Popen(
        [*command, target.process.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(seconds / 2)
    spread = _spread(target.process.url)
    output, stderr = running.communicate(timeout=120)
    ended = os.times()
    busy = machine_busy() - busy
    server, database = target.process.cpu_seconds() - before_cpu, _db_cpu(target) - before_db
    if running.returncode != 0:
        raise RuntimeError(f"wrk failed: {stderr}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    not_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if errors:
        print(f"  {target.label}: socket errors {errors.group(1)}", file=sys.stderr)
    latency = {p: float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    client = (ended.children_user + ended.children_system) - (started.children_user + started.children_system)
    wall = ended.elapsed - started.elapsed
    return Run(
        requests,
        rps,
        latency.get("50", 0.0),
        latency.get("99", 0.0),
        int(not_2xx.group(1)) if not_2xx else 0,
        server / max(requests, 1) * 1e3,
        database / max(requests, 1) * 1e3,
        max(busy - server - database - client, 0.0) / wall,
        spread,
    )


def _spread(url: str) -> str:
    """Return how many established connections each process serving ``url``'s port holds, as "9+7"."""
    port = urlsplit(url).port
    listed = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    per_process = collections.Counter(re.findall(r"pid=(\d+)", listed))
    return "+".join(str(n) for n in sorted(per_process.values(), reverse=True))


def _db_cpu(target: Target) -> float:
    return postgres_cpu(target.database) if target.database else 0.0


def start(backend: str, args: argparse.Namespace, workdir: Path) -> tuple[list[Target], list[FreshDatabase]]:
    """Start every server of one backend's run, loaded; return them and the databases to drop."""
    targets, databases = [], []
    for workers in args.workers:
        (workdir / f"w{workers}").mkdir()
        database = FreshDatabase(backend, workdir / f"w{workers}", args.postgres_url)
        databases.append(database)
        token = scimhub_token(database.url)
        label = "scimhub" if len(args.workers) == 1 else f"scimhub×{workers}"
        process = scimhub_server(database.url, workdir / f"{label}.log", workers)
        targets.append(Target(label, process, SCIM, database.name, token))
    if not args.no_peer:
        command = [str(peer_python()), str(BENCH / "peer.py")]
        process = ServerProcess(command, dict(os.environ), workdir / "peer.log", PEER_READY)
        targets.append(Target("peer", process, PEER_PREFIX))
    targets.append(Target("floor", script_server(BENCH / "floor.py", workdir / "floor.log"), SCIM))
    for target in targets:
        if target.label == "floor":  # it stores nothing: any ids do for its PATCHes
            _write_ids(target, workdir, [str(uuid.uuid4()) for _ in range(args.users)], ["g"] * GROUPS)
        else:
            load(target, args.users, workdir)
            check_lookup(target)
    for database in databases:
        database.settle()
    return targets, databases


def measure(backend: str, args: argparse.Namespace, wrk_path: str) -> dict[str, dict[str, list[Run]]]:
    """Run every scenario's rounds on one backend; return the runs by scenario and server."""
    runs: dict[str, dict[str, list[Run]]] = {}
    with tempfile.TemporaryDirectory(prefix="scimhub-peers-") as directory:
        workdir = Path(directory)
        targets, databases = start(backend, args, workdir)
        try:
            for scenario in args.scenarios:
                runs[scenario] = {t.label: [] for t in targets}
                for target in targets:
                    wrk(wrk_path, target, scenario, 1, args)  # warm-up, not counted
                for round_ in range(args.rounds):
                    for target in targets if round_ % 2 == 0 else targets[::-1]:
                        run = wrk(wrk_path, target, scenario, args.seconds, args)
                        runs[scenario][target.label].append(run)
                        print(
                            f"{backend} {scenario} round {round_ + 1} {target.label}: {run.rps:,.0f} req/s, "
                            f"{run.server_cpu_ms:.3f} ms CPU/req, {run.not_2xx} not 2xx, "
                            f"other processes {run.other_cores:.2f} cores, connections {run.spread}",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            for target in targets:
                target.process.stop()
            for database in databases:
                database.drop()
    return runs


def report(backend: str, runs: dict[str, dict[str, list[Run]]], args: argparse.Namespace) -> None:
    """Print the medians per scenario and server, and the ratios of scimhub to the others."""
    print(
        f"\n{backend}: {args.users:,} users, wrk -t1 -c{args.connections} pinned to CPU {args.client_cpu}, "
        f"{args.rounds} rounds × {args.seconds} s per server, medians; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        "| scenario | server | req/s | p50 ms | p99 ms | CPU ms/req | + PostgreSQL | not 2xx | other cores |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario, by_server in runs.items():
        medians = {}
        for label, found in by_server.items():
            medians[label] = m = {
                k: statistics.median(getattr(r, k) for r in found) for k in asdict(found[0]) if k != "spread"
            }
            print(
                f"| {scenario} | {label} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.1f} | "
                f"{m['server_cpu_ms']:.3f} | {m['database_cpu_ms']:.3f} | "
                f"{sum(r.not_2xx for r in found)} | {m['other_cores']:.2f} |"
            )
        mine = [label for label in medians if label.startswith("scimhub")]
        for label in mine:
            for other in [o for o in medians if o not in mine]:
                ratio = medians[label]["rps"] / medians[other]["rps"]
                print(f"| {scenario} | {label} ÷ {other} | **{ratio:.3f}×** | | | | | | |")
        if len(mine) == 2:
            ratio = medians[mine[1]]["rps"] / medians[mine[0]]["rps"]
            print(f"| {scenario} | {mine[1]} ÷ {mine[0]} | **{ratio:.3f}×** | | | | | | |")
    several = {
        label for by_server in runs.values() for label in by_server if "×" in label and label[-1] != "1"
    }
    for label in sorted(several):
        spreads = "; ".join(f"{s} {', '.join(r.spread for r in by[label])}" for s, by in runs.items())
        print(f"\n{label}: wrk's connections per process, each run: {spreads}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5, help="each measured wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per server and scenario (default 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1", help="scimhub's processes, e.g. 1,2 to compare (default 1)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--client-cpu", type=int, default=1, help="the CPU wrk is pinned to (default 1)")
    parser.add_argument("--no-peer", action="store_true", help="leave scim2-server out")
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}: choose from {', '.join(SCENARIOS)}")
    wrk_path = ensure_wrk()
    everything = {}
    for backend in chosen_backends(args):
        runs = measure(backend, args, wrk_path)
        report(backend, runs, args)
        everything[backend] = {
            s: {k: [asdict(r) for r in v] for k, v in by.items()} for s, by in runs.items()
        }
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
