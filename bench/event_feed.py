"""The event feed's two measurements (issue 6, ADR 0011), printed as Markdown for docs/benchmarks.md.

    .venv/bin/python bench/event_feed.py ordering [--writers 1,2,4,8,16] [--seconds 6] [--repeats 3]
    .venv/bin/python bench/event_feed.py wake [--backend sqlite|postgresql|both] [--samples 40]

``ordering`` (PostgreSQL): W writer processes create users through the
directory for a fixed time (one transaction and two events per user), on a fresh
database, two ways, interleaved, the median of several runs: ``lock``, the code
as it is (ADR 0011: the lock taken before the events' INSERT and held through
COMMIT); ``naive``, numbers taken at INSERT with no lock at all (the outbox
trap), what any cheaper ordering is bounded by. (ADR 0050 measured a third way,
events numbered after their commit, with this benchmark at commit 1279709.)
It reports writes per second, and how many
committed events a naive follower missed: a thread that reads ``seq > cursor``
as fast as it can while the writers run, advancing its cursor to the last
``seq`` it saw, the way every consumer of an outbox follows it.

``wake``: a consumer long-polls the live server (``pollTimeoutSeconds=30``)
while changes are made one at a time, the consumer waiting each time. Two
writers: another process writing through the directory (it records
``time.monotonic()`` right after its commit returned: the clock is the
machine's, shared by every process), which PostgreSQL's NOTIFY or SQLite's
once-a-second check must report; and a SCIM POST to the server itself, heard by
the server's own commit listener, timed from the moment the POST was sent (an
upper bound: it includes handling the POST).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Queue
from typing import Any

import httpx
from servers import FreshDatabase, ServerProcess, scimhub_command

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.settings import Settings
from scimhub.store.sql import events
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.wiring import build

POSTGRES_ADMIN_URL = os.environ.get(
    "SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POLL = "/openapi/v1/events/poll"


MODES = ("lock", "naive")


def _flush_naively(self: events.SqlEventLog) -> None:
    """Numbers taken at INSERT, no lock: the outbox trap."""
    if self._pending:
        self.written_through = max(self._connection.execute(events._INSERT, self._pending).scalars())
        self._pending = []


def _write_users(database_url: str, writer: int, seconds: float, mode: str, go: Any, results: Any) -> None:
    """Once ``go`` is set, create users, one transaction each, for ``seconds``; report how many."""
    if mode == "naive":
        events.SqlEventLog.flush = _flush_naively  # type: ignore[method-assign]
    hub = build(Settings(database_url=database_url), upgrade=False)
    hub.feed.head()  # connected and warm before the clock starts
    results.put(None)
    go.wait()
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        hub.users.create(SYSTEM, UserEdit({"userName": f"w{writer}-{done}", "roles": [{"value": "Reader"}]}))
        done += 1
    hub.close()
    results.put(done)


def _run_writers(database_url: str, writers: int, seconds: float, mode: str) -> int:
    """Start ``writers`` processes, let them all begin together, and return how many users they created."""
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_write_users, args=(database_url, w, seconds, mode, go, results))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # each says it is ready
        results.get(timeout=300)
    go.set()
    total = sum(results.get(timeout=300) for _ in processes)
    for process in processes:
        process.join()
    return total


def _follow_naively(database_url: str, stop: threading.Event, seen: set[int]) -> None:
    """Read ``seq > cursor`` in a loop, moving the cursor to the last seq read, until stopped and drained."""
    engine = make_engine(database_url)
    store, cursor = SqlStore(engine), 0
    while True:
        with store.read() as tx:
            page = tx.events.after(cursor, 1000)
        seen.update(r.seq for r in page)
        if page:
            cursor = page[-1].seq
        elif stop.is_set():
            break
        else:
            time.sleep(0.001)
    store.close()
    engine.dispose()


def _ordering_run(
    writers: int, seconds: float, mode: str, follow: bool, workdir: Path
) -> tuple[float, int, int]:
    """Return (writes per second, events committed, events a naive follower missed, if one ran)."""
    database = FreshDatabase("postgresql", workdir, POSTGRES_ADMIN_URL)
    try:
        build(Settings(database_url=database.url)).close()  # migrate once, before the clock starts
        stop, seen = threading.Event(), set[int]()
        follower = threading.Thread(target=_follow_naively, args=(database.url, stop, seen))
        if follow:
            follower.start()
        done = _run_writers(database.url, writers, seconds, mode)
        stop.set()
        if follow:
            follower.join()
        engine = make_engine(database.url)
        store = SqlStore(engine)
        with store.read() as tx:
            committed = {r.seq for r in tx.events.after(0, 10**9)}
        store.close()
        engine.dispose()
        missed = len(committed - seen) if follow else 0
        return done / seconds, len(committed), missed
    finally:
        database.drop()


def ordering(writer_counts: list[int], seconds: float, repeats: int) -> str:
    """Measure each way's writes/s (median of ``repeats``) and the events a follower missed (Markdown)."""
    rows = [
        "| writer processes | writes/s with the lock | without (naive) | lock ÷ naive"
        " | events a naive follower missed, with the lock | without |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as workdir:
        for writers in writer_counts:
            rates: dict[str, list[float]] = {mode: [] for mode in MODES}
            for _ in range(repeats):  # interleaved, so a slow spell of the machine hurts every way alike
                for mode in MODES:
                    rates[mode].append(_ordering_run(writers, seconds, mode, False, Path(workdir))[0])
            median = {mode: statistics.median(rates[mode]) for mode in MODES}
            missed = []
            for mode in MODES:
                _, total, lost = _ordering_run(writers, seconds, mode, True, Path(workdir))
                missed.append(f"{lost} of {total}")
            rows.append(
                f"| {writers} | {median['lock']:,.0f} | {median['naive']:,.0f}"
                f" | {median['lock'] / median['naive']:.2f}× | {' | '.join(missed)} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows)


def _commit_on_request(database_url: str, requests: Any, replies: Any) -> None:
    """Serve the wake benchmark: for each name received, create that user and send the commit time back."""
    hub = build(Settings(database_url=database_url), upgrade=False)
    while (name := requests.get()) is not None:
        hub.users.create(SYSTEM, UserEdit({"userName": name}))
        replies.put(time.monotonic())
    hub.close()


class _Poller:
    """A consumer long-polling in a thread; ``arrivals`` gets (time received, entity URNs) per answer."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.offset = self.client.get(POLL).json()["offsetId"]
        self.arrivals: Queue[tuple[float, list[str]]] = Queue()
        self.stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import json

        while not self.stopped:
            try:
                body = self.client.get(
                    POLL, params={"offsetId": self.offset, "pollTimeoutSeconds": 30}
                ).json()
            except httpx.TransportError:
                return  # the server stopped at the end of the run
            received = time.monotonic()
            self.offset = body["offsetId"]
            urns = [
                json.loads(json.loads(e["value"])["payload"]["value"])["entityUrn"] for e in body["events"]
            ]
            if urns:
                self.arrivals.put((received, urns))

    def wait_for(self, urn: str) -> float:
        """Return when the poll that carried ``urn`` was answered."""
        while True:
            received, urns = self.arrivals.get(timeout=60)
            if urn in urns:
                return received


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f}"


def wake(backend: str, samples: int) -> list[str]:
    """Measure how long after a commit a waiting long poll answers; return Markdown table rows."""
    with tempfile.TemporaryDirectory() as workdir:
        database = FreshDatabase(backend, Path(workdir), POSTGRES_ADMIN_URL)
        server = None
        try:
            token = scimhub_command(database.url, "token", "create", "--name", "bench").splitlines()[-1]
            env = {**os.environ, "SCIMHUB_DATABASE_URL": database.url}
            server = ServerProcess(
                [sys.executable, "-m", "scimhub", "serve"], env, Path(workdir) / "serve.log"
            )
            poller = _Poller(server.url, token)
            context = multiprocessing.get_context("spawn")
            requests, replies = context.Queue(), context.Queue()
            writer = context.Process(target=_commit_on_request, args=(database.url, requests, replies))
            writer.start()
            other, own = [], []
            scim = httpx.Client(
                base_url=server.url + "/scim/v2", headers={"Authorization": f"Bearer {token}"}
            )
            for i in range(samples):
                time.sleep(0.2)  # the poller is waiting again
                requests.put(f"other-{i}")
                committed = replies.get(timeout=60)
                other.append(poller.wait_for(f"urn:li:corpuser:other-{i}") - committed)
                time.sleep(0.2)
                sent = time.monotonic()
                scim.post("/Users", json={"userName": f"own-{i}"})
                own.append(poller.wait_for(f"urn:li:corpuser:own-{i}") - sent)
            requests.put(None)
            writer.join()
            poller.stopped = True
            how = "LISTEN/NOTIFY" if backend == "postgresql" else "once-a-second check"
            return [
                f"| {backend} | another process ({how}), from its commit | {_percentiles(other)} |",
                f"| {backend} | the server itself (commit listener), from sending the POST"
                f" | {_percentiles(own)} |",
            ]
        finally:
            if server is not None:
                server.stop()
            database.drop()


def main() -> None:
    """Run the benchmark named on the command line and print its Markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_ordering = commands.add_parser("ordering")
    run_ordering.add_argument("--writers", default="1,4,8,16")
    run_ordering.add_argument("--seconds", type=float, default=6.0, help="how long each run writes")
    run_ordering.add_argument("--repeats", type=int, default=3)
    run_wake = commands.add_parser("wake")
    run_wake.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    run_wake.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    if args.command == "ordering":
        print(ordering([int(w) for w in args.writers.split(",")], args.seconds, args.repeats))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = ["| backend | writer | p50 ms | p95 ms | max ms |", "|---|---|---:|---:|---:|"]
    for backend in backends:
        rows += wake(backend, args.samples)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
