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
import http.client
import itertools
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import orjson
from options import add_database_options, chosen_backends
from seed import user_body, user_name
from servers import FreshDatabase, ServerProcess, scimhub_token
from workload import SCIM

Connection = http.client.HTTPConnection
Request = Callable[[Connection, int], None]
"""One request of a scenario, sent on a connection, given its number within the run."""

TAG = "instructions"
SCENARIOS = ("lookup", "create")
STARTUP_SECONDS = 300
"""How long the server may take to start under valgrind, which runs it many times slower."""


class Client:
    """Requests to one server over keep-alive connections, several at a time."""

    def __init__(self, url: str, token: str, connections: int) -> None:
        self._netloc = url.removeprefix("http://")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self._connections = connections

    def send(self, connection: Connection, method: str, path: str, body: object = None) -> None:
        """Send one request on ``connection``; raise unless it succeeded."""
        payload = orjson.dumps(body) if body is not None else None
        connection.request(method, SCIM + path, payload, self._headers)
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")

    def run(self, count: int, request: Request) -> None:
        """Make ``count`` requests, numbered from 0, spread over the connections as each is free."""
        numbers = iter(range(count))
        lock = threading.Lock()
        failures: list[BaseException] = []

        def connection_loop() -> None:
            connection = Connection(self._netloc, timeout=600)
            try:
                while not failures:
                    with lock:
                        number = next(numbers, None)
                    if number is None:
                        return
                    request(connection, number)
            except BaseException as error:  # noqa: BLE001 - reported by the caller's thread
                failures.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=connection_loop) for _ in range(self._connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]


def scenario_requests(client: Client, users: int) -> dict[str, Request]:
    """Return each scenario's request."""
    created = itertools.count(users)  # new userNames, never one taken: a create that fails is no measure
    lock = threading.Lock()

    def lookup(connection: Connection, number: int) -> None:
        name = quote(user_name(TAG, number % users))
        client.send(connection, "GET", f"/Users?filter=userName%20eq%20%22{name}%22")

    def create(connection: Connection, _: int) -> None:
        with lock:
            index = next(created)
        client.send(connection, "POST", "/Users", user_body(TAG, index))

    return {"lookup": lookup, "create": create}


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
            client = Client(server.url, token, args.connections)
            client.run(args.users, lambda to, n: client.send(to, "POST", "/Users", user_body(TAG, n)))
            requests = scenario_requests(client, args.users)
            for scenario in args.scenarios:
                client.run(args.warm_up, requests[scenario])
                _callgrind(server.popen.pid, "on")
                client.run(args.requests, requests[scenario])
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
