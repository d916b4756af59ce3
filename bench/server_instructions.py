"""Instructions the whole server process spends per request over HTTP, counted by callgrind (issue 15).

    .venv/bin/python bench/server_instructions.py [--backend sqlite|postgresql|both]
        [--scenarios lookup,create] [--users 100] [--warm-up 200] [--requests 300] [--connections 8]

``python -m scimhub serve`` runs in its default configuration (access log, metrics, request ids and
rate limits on) under valgrind's callgrind with collection off, on a new SQLite file or PostgreSQL
database. ``--users`` users are created over HTTP; then, per scenario, ``--connections`` keep-alive
connections send ``--warm-up`` requests, callgrind_control turns collection on, they send
``--requests`` more, and it is turned off again. The instructions collected, divided by
``--requests``, are what one request costs the server process: uvicorn, Starlette, the middleware,
authentication, the SCIM handler, the store and the driver, everything that runs in user space in
that process. PostgreSQL's own work is another process's and is not counted; neither is the
kernel's (a socket's write, a wait). A count does not move with what else runs on the machine, so
two trees compare by running this from each (``PYTHONPATH=<tree>/src``); seconds cannot be read
from it.

Scenarios: ``lookup`` (``GET /Users?filter=userName eq "…"``, each of the loaded users in turn) and
``create`` (``POST /Users``, Entra's body with a new userName each time).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from load import Request, run_load
from options import add_database_options, chosen_backends
from seed import user_name
from servers import FreshDatabase, ServerProcess, scimhub_token
from workload import filter_requests, user_creates

TAG = "instructions"
SCENARIOS = ("lookup", "create")
STARTUP_SECONDS = 300
"""How long the server may take to start under valgrind, which runs it many times slower."""
RUN_SECONDS = 600.0
"""How long one batch of requests may take under valgrind: a run cut short would count too few."""


def scenario_requests(scenario: str, count: int, users: int, new_users: Iterator[int]) -> list[Request]:
    """Return ``count`` requests of ``scenario``: lookups of the loaded users, or new users' creates."""
    if scenario == "lookup":
        return filter_requests('userName eq "{}"', (user_name(TAG, i % users) for i in range(count)))
    return user_creates(TAG, itertools.islice(new_users, count))


def _send(url: str, token: str, requests: list[Request], connections: int) -> None:
    """Send ``requests`` over ``connections`` connections (bench/load.py); raise on a wrong answer."""
    outcome = run_load(url, requests, token=token, concurrency=connections, time_limit=RUN_SECONDS)
    if outcome.errors or outcome.stopped_early:
        wrong = f"{outcome.errors} wrong answers ({outcome.error_samples[:3]})"
        raise RuntimeError(f"{wrong}, stopped early: {outcome.stopped_early}")


def _callgrind(pid: int, switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(pid)], check=True, capture_output=True)


def _dumped(pid: int, output: Path) -> int:
    """Have callgrind write what it collected since its last dump; return those instructions.

    Each dump is a file of its own beside ``output`` (``<output>.1``, ``.2``…), counted from zero.
    """
    before = set(output.parent.glob(output.name + ".*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    [dump] = set(output.parent.glob(output.name + ".*")) - before
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):  # its "summary:" line says 0 for a dump made on demand
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Return the instructions per request of each scenario on ``backend``, in millions."""
    database = FreshDatabase(backend, workdir, args.postgres_url)
    try:
        token = scimhub_token(database.url)
        output = workdir / f"{backend}.callgrind"
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={output}"]
        server = ServerProcess(
            [*valgrind, sys.executable, "-m", "scimhub", "serve"],
            {**os.environ, "SCIMHUB_DATABASE_URL": database.url},
            workdir / f"{backend}.log",
            startup_seconds=STARTUP_SECONDS,
        )
        found: dict[str, float] = {}
        try:
            _send(server.url, token, user_creates(TAG, range(args.users)), args.connections)
            new_users = itertools.count(args.users)  # never a userName taken: a failed create is no measure
            for scenario in args.scenarios:
                warm_up = scenario_requests(scenario, args.warm_up, args.users, new_users)
                measured = scenario_requests(scenario, args.requests, args.users, new_users)
                _send(server.url, token, warm_up, args.connections)
                _callgrind(server.popen.pid, "on")
                _send(server.url, token, measured, args.connections)
                _callgrind(server.popen.pid, "off")
                found[scenario] = _dumped(server.popen.pid, output) / args.requests / 1e6
                print(f"{backend} {scenario}: {found[scenario]:.3f} M instructions", file=sys.stderr)
        finally:
            server.stop()
        return found
    finally:
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_options(parser)
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=list(SCENARIOS))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="scimhub-instructions-") as directory:
        for backend in chosen_backends(args):
            (Path(directory) / backend).mkdir()
            results[backend] = measure(backend, args, Path(directory) / backend)
    print(
        f"\nInstructions a request, whole server process: {args.requests} requests after {args.warm_up}"
        f" of warm-up, {args.connections} connections"
    )
    print("| backend | " + " | ".join(args.scenarios) + " |")
    print("| --- |" + " ---: |" * len(args.scenarios))
    for backend, found in results.items():
        print(f"| {backend} | " + " | ".join(f"{found[s]:.3f} M" for s in args.scenarios) + " |")


if __name__ == "__main__":
    main()
