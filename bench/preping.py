"""Measure what pinging each pooled PostgreSQL connection at checkout costs a request (ADR 0029).

    .venv/bin/python bench/preping.py [--postgres-url URL] [--transactions 3000] [--repeats 5]

One request of the core is one checkout and one short transaction. This times
``--transactions`` of them (``BEGIN``, ``SELECT 1``, ``COMMIT``) on scimhub's engine
with ``pool_pre_ping`` off (the default since ADR 0029) and on, alternating,
``--repeats`` times, and prints the median time per transaction of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from sqlalchemy import text

from scimhub.store.sql.engine import make_engine


def per_transaction(url: str, pre_ping: bool, transactions: int) -> float:
    """Return the mean seconds of one checkout + transaction, on a warm pool."""
    engine = make_engine(url, pool_pre_ping=pre_ping)
    try:
        with engine.connect() as connection:  # warm: the connection exists
            connection.execute(text("SELECT 1"))
        started = time.perf_counter()
        for _ in range(transactions):
            with engine.connect() as connection, connection.begin():
                connection.execute(text("SELECT 1"))
        return (time.perf_counter() - started) / transactions
    finally:
        engine.dispose()


def main() -> None:
    """Alternate the two settings and print the medians, in microseconds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for pre_ping in (False, True):
            times[pre_ping].append(per_transaction(args.postgres_url, pre_ping, args.transactions))
    off, on = statistics.median(times[False]) * 1e6, statistics.median(times[True]) * 1e6
    print(
        f"pool_pre_ping off: {off:.0f} µs per checkout+transaction; on: {on:.0f} µs (+{on - off:.0f} µs, "
        f"+{(on / off - 1) * 100:.0f} %); {args.repeats} × {args.transactions} transactions each"
    )


if __name__ == "__main__":
    main()
