"""What a PostgreSQL round trip costs, against a second statement in the same one (ADR 0083, 0089).

    .venv/bin/python bench/round_trips.py [--postgres-url URL] [--calls 5000]
    PYTHONPATH=<tree>/src .venv/bin/python bench/round_trips.py     # another commit's libpq.py

On one psycopg connection, through ``store/sql/libpq.py`` (the request path's own way to
PostgreSQL, ADR 0074), a prepared ``SELECT $1::int + 1`` runs four ways, alternated in two
rounds: one statement in one round trip; two statements in two round trips; two, then five
statements in one round trip (one pipeline; a create sends four and its Sync). It prints this
process's CPU, the backend's (from /proc) and the wall time per call. What the second round trip
costs over the second statement is what a request saves by sending its credential's statement with
its work's first one; what the five cost over the one, what each statement's own write cost before
ADR 0089.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
from options import POSTGRES_ADMIN_URL
from psycopg.adapt import PyFormat
from servers import process_cpu

from scimhub.store.sql.libpq import Statement, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="a PostgreSQL database")
    parser.add_argument("--calls", type=int, default=5_000)
    options = parser.parse_args()
    url = options.postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        backend = connection.info.backend_pid
        info: dict[Any, Any] = {}
        statement = Statement(b"SELECT $1::int + 1", [PyFormat.AUTO], tuple)

        def one() -> None:
            run(connection, info, [(statement, [[1]])])

        def two_round_trips() -> None:
            run(connection, info, [(statement, [[1]])])
            run(connection, info, [(statement, [[2]])])

        def two_in_one() -> None:
            run(connection, info, [(statement, [[1]]), (statement, [[2]])])

        def five_in_one() -> None:
            run(connection, info, [(statement, [[n]]) for n in range(5)])

        ways: list[tuple[str, Callable[[], None]]] = [
            ("one statement, one round trip", one),
            ("two statements, two round trips", two_round_trips),
            ("two statements, one round trip", two_in_one),
            ("five statements, one round trip", five_in_one),
        ]
        print(
            f"| way | µs CPU per call | backend µs CPU | µs wall per call |"
            f"  ({options.calls:,} calls, best of 2 rounds)"
        )
        print("| --- | ---: | ---: | ---: |")
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(2):
            for name, call in ways:
                for _ in range(options.calls // 10):
                    call()
                cpu, theirs, wall = time.process_time(), process_cpu(backend), time.perf_counter()
                for _ in range(options.calls):
                    call()
                measured = (
                    (time.process_time() - cpu) / options.calls * 1e6,
                    (process_cpu(backend) - theirs) / options.calls * 1e6,
                    (time.perf_counter() - wall) / options.calls * 1e6,
                )
                best[name] = min(best.get(name, measured), measured)  # the fastest run, by this CPU
        for name, _ in ways:
            mine, theirs, wall = best[name]
            print(f"| {name} | {mine:.1f} | {theirs:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
