"""Kill -9 ``scimhub serve`` under a sustained SCIM write load, restart it, and prove nothing was lost.

    .venv/bin/python bench/crash.py [--backend sqlite|postgresql|both] [--rounds 10] [--clients 4]
                                    [--min-load 2] [--max-load 6] [--workers N] [--wait-lease]
                                    [--seed S] [--json]

Per engine, on a fresh database (a SQLite file; a new database on the
PostgreSQL of ``--postgres-url``, served by ``--workers 2`` processes), with the
DataHub push on against the stand-in GMS the tests use: each round ``--clients``
threads write their own users and group (POST, PATCH of attributes, member adds
and removes, DELETE), the whole process group of the server is killed with
SIGKILL at a random moment, and the server is started again. Then every client's
acknowledged writes must be there with their events, its last write if it got
no answer must be wholly applied or wholly absent, no membership row may
outlive its user, SQLite's integrity check must pass, and the push must catch
up from its checkpoint and agree with the database (``crash_checks``). The
killed process's push lease is ended in the database before the restart, as
waiting out its 30 s would (``--wait-lease`` waits instead). Earlier rounds'
resources are checked again after every later crash. Prints a summary; exits 1
on any violation. Bounded: each round is at most ``--max-load`` seconds of load,
a restart, the push catching up (90 s at most) and the checks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import bench.* and tests.* from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from bench.crash_checks import (  # noqa: E402
    Tally,
    check_client,
    check_database,
    check_push,
    expire_lease,
    push_position,
)
from bench.crash_load import Client  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from tests.databases import POSTGRES_ADMIN_URL  # noqa: E402
from tests.datahub.gms import StandInGms  # noqa: E402

SETTLE_SECONDS = 90.0
"""How long the restarted push may take to catch up before the round counts as a violation."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``scimhub serve`` in a process group of its own, so that one signal reaches all its processes."""

    def __init__(self, database_url: str, workers: int, gms: StandInGms, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SCIMHUB_DATABASE_URL": database_url,
            "SCIMHUB_DATAHUB_GMS_URL": gms.url,
            "SCIMHUB_DATAHUB_TOKEN": gms.token,
        }
        command = [
            sys.executable,
            "-m",
            "scimhub",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        with log.open("ab") as output:
            self.popen = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait(log)

    def _wait(self, log: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"scimhub serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"scimhub serve did not get ready within 60 s: {log.read_text()[-2000:]}")

    def kill(self) -> None:
        """Send SIGKILL to every process of the server's group, and wait until none is left."""
        self._signal_group(signal.SIGKILL, 10)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM to its group), killing what lingers."""
        try:
            self._signal_group(signal.SIGTERM, 20)
        except TimeoutError:
            self.kill()

    def _signal_group(self, sig: signal.Signals, wait: float) -> None:
        group = self.popen.pid  # the leader of its own session and group
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        self.popen.wait(timeout=wait)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)  # any process of the group left?
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise TimeoutError(f"processes of group {group} outlived {sig.name}")


def settle_push(url: str) -> dict[str, object]:
    """Wait until /readyz reports the push caught up; return its ``datahub`` part."""
    deadline = time.monotonic() + SETTLE_SECONDS
    datahub: dict[str, object] = {}
    while time.monotonic() < deadline:
        ready = httpx.get(url + "/readyz", timeout=5)
        if ready.status_code == 200:
            datahub = ready.json().get("datahub", {})
            if datahub.get("lag") == 0 and datahub.get("state") == "ok":
                return datahub
        time.sleep(0.1)
    raise TimeoutError(f"the push did not catch up within {SETTLE_SECONDS:.0f} s: {datahub}")


def token(database_url: str) -> str:
    """Return a new admin token from ``scimhub token create``."""
    env = {**os.environ, "SCIMHUB_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "scimhub", "token", "create", "--name", "crash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def load(url: str, admin: str, clients: list[Client], seconds: float, server: Server) -> None:
    """Run the clients for ``seconds``, then kill the server under them, and wait for them to stop."""
    headers = {"Authorization": f"Bearer {admin}"}
    sessions = [httpx.Client(base_url=url, headers=headers, timeout=30) for _ in clients]
    try:
        for client, http in zip(clients, sessions, strict=True):
            client.set_up(http)
        threads = [
            threading.Thread(target=c.run, args=(h,), daemon=True)
            for c, h in zip(clients, sessions, strict=True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        server.kill()
        for thread in threads:
            thread.join(60)
    finally:
        for http in sessions:
            http.close()


def count(clients: list[Client], tally: Tally) -> None:
    """Add a round's writes to the tally; an unexpected status (not 2xx, not from the kill) is a violation."""
    for client in clients:
        for outcome in client.outcomes:
            tally.writes += 1
            tally.acknowledged += outcome.acknowledged
            tally.refused += outcome.error == "refused"
            if outcome.status is not None and not outcome.acknowledged:
                tally.violations.append(f"{client.name}: {outcome.write} answered {outcome.status}")


def verify(engine: Engine, clients: list[Client], fresh: list[Client], tally: Tally) -> None:
    """Check every client so far and the whole database; count the acknowledged writes of ``fresh``."""
    for client in clients:
        before = len(tally.violations)
        check_client(engine, client, tally)
        if client in fresh and len(tally.violations) == before:
            tally.checked += sum(o.acknowledged for o in client.outcomes)
    tally.violations += check_database(engine)


def run_engine(backend: str, args: argparse.Namespace, workdir: Path) -> Tally:
    """Run ``args.rounds`` crash rounds on one engine; return its tally."""
    tally, started, rng = Tally(), time.monotonic(), random.Random(args.seed)
    run = uuid.uuid4().hex[:6]
    admin_url, name = args.postgres_url, f"scimhub_crash_{run}"
    if backend == "sqlite":
        url = f"sqlite:///{workdir}/crash-{run}.db"
    else:
        _admin(admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    workers = args.workers or (2 if backend == "postgresql" else 1)
    engine = create_engine(url)
    gms = StandInGms()
    log = workdir / f"serve-{backend}-{run}.log"
    everyone: list[Client] = []
    try:
        admin = token(url)
        server = Server(url, workers, gms, log)
        for number in range(args.rounds):
            clients = [
                Client(f"crash-{run}-r{number}-c{i}", rng.randrange(2**32)) for i in range(args.clients)
            ]
            everyone += clients
            load(server.url, admin, clients, rng.uniform(args.min_load, args.max_load), server)
            count(clients, tally)
            checkpoint, mark = push_position(engine), len(gms.received)
            if not args.wait_lease:
                expire_lease(engine)
            server = Server(url, workers, gms, log)
            verify(engine, everyone, clients, tally)
            try:
                settle_push(server.url)
                repushed, problems = check_push(engine, gms, everyone, checkpoint, mark)
                tally.repushed += repushed
                tally.violations += problems
            except TimeoutError as error:
                tally.violations.append(f"round {number}: {error}")
            tally.rounds += 1
            _progress(backend, number, tally)
        server.stop()
    finally:
        engine.dispose()
        gms.close()
        if backend == "postgresql":
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    tally.seconds = time.monotonic() - started
    return tally


def _admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _progress(backend: str, number: int, tally: Tally) -> None:
    print(
        f"{backend} round {number + 1}: {tally.acknowledged} acknowledged so far, "
        f"{len(tally.violations)} violation(s)",
        file=sys.stderr,
        flush=True,
    )


def summary(backend: str, tally: Tally) -> str:
    """Return one engine's figures as a line."""
    return (
        f"{backend}: {tally.rounds} rounds, {tally.writes} writes, {tally.acknowledged} acknowledged, "
        f"{tally.checked} acknowledged checked, in flight at the kill: {tally.applied} applied / "
        f"{tally.absent} absent, {tally.refused} refused (absent), {tally.repushed} events pushed again "
        f"after restart, {len(tally.violations)} violation(s), {tally.seconds:.0f} s"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--min-load", type=float, default=2.0, help="seconds of load before the kill, at least"
    )
    parser.add_argument(
        "--max-load", type=float, default=6.0, help="seconds of load before the kill, at most"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="server processes (default: 1 SQLite, 2 PostgreSQL)"
    )
    parser.add_argument(
        "--wait-lease",
        action="store_true",
        help="let the killed process's 30 s push lease run out instead of ending it in the database",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the tallies as JSON too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the rounds on each chosen engine; print the summary; return 1 on any violation."""
    args = parse(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    tallies = {}
    with tempfile.TemporaryDirectory(prefix="scimhub-crash-") as workdir:
        for backend in backends:
            tallies[backend] = run_engine(backend, args, Path(workdir))
    for backend, tally in tallies.items():
        print(summary(backend, tally))
        for violation in tally.violations[:50]:
            print(f"  VIOLATION {violation}")
    if args.json:
        print(json.dumps({b: {**vars(t), "violations": t.violations} for b, t in tallies.items()}))
    return 1 if any(t.violations for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
