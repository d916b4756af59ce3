"""What a create costs PostgreSQL alone in its transaction, against several creates sharing one.

    .venv/bin/python bench/commit_batches.py [--postgres-url URL] [--creates 4000] [--batches 1,4,8,16]

A create's statements are captured as the store sends them (``prepared._run``): the user's row,
its email's row, and the event with the commit-order lock and its ``NOTIFY`` (ADR 0068). They are
then replayed on one psycopg connection with new names, each a prepared statement in a libpq
pipeline. With a batch of 1, each create is its own transaction and round trip, as the server sends
it (ADR 0075). With N, N creates share one ``BEGIN`` … ``COMMIT``, one round trip and one flush of
the WAL. The batch sizes alternate over two rounds. It prints the CPU per create of PostgreSQL's
backend (from /proc) and of this client, the wall time, and each as a ratio to the batch of 1.
This shows how much of PostgreSQL's share of a create is per transaction and how much per row.
The server does not batch creates (ADR 0084's "Measured").

A last row sends each create, one a transaction, with the statement that checks the write's
credential at its commit (``CREDENTIAL_HOLDS``, ADR 0084), last before the pipeline's end, as every
write over HTTP does: what that check costs PostgreSQL.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from options import POSTGRES_ADMIN_URL
from psycopg import RawCursor
from servers import FreshDatabase, process_cpu, scimhub_token
from sqlalchemy import create_engine, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.store.sql import migrate, prepared
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import tokens
from scimhub.store.sql.tokens import CREDENTIAL_HOLDS, holding, read_credential


def _captured_create(url: str) -> list[tuple[str, list[Any]]]:
    """Return the statements of one create with an email, as SQL and values, by the store itself."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    store = SqlStore(make_engine(url))
    captured: list[tuple[str, list[Any]]] = []
    sent = prepared._run

    def spy(connection: Any, runs: Any) -> list[list[Any]]:
        captured.extend((plan.sql, bound) for plan, bound, _ in runs)
        return sent(connection, runs)

    prepared._run = spy
    try:
        body = {"userName": "x@example.com", "displayName": "X", "emails": [{"value": "x@example.com"}]}
        Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit(body))
    finally:
        prepared._run = sent
        store.close()
        store.engine.dispose()
    assert len(captured) == 3, captured  # the user, the email, the event
    return captured


def _captured_check(url: str) -> tuple[str, list[Any]]:
    """Return the check of an admin token's credential at a write's commit (ADR 0084), as SQL and values."""
    scimhub_token(url)  # the schema, the admin user and a token
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            hash = connection.execute(select(tokens.c.hash)).scalar_one()
            credential = read_credential(connection, hash)
            assert credential is not None
            values = holding(hash, credential)
            plan, bound, _ = prepared._prepare(connection.dialect, CREDENTIAL_HOLDS, values)
    finally:
        engine.dispose()
    return plan.sql, bound


class _Replay:
    """The captured create, sent again with a new id and name each time."""

    def __init__(self, url: str, captured: list[tuple[str, list[Any]]], check: tuple[str, list[Any]]) -> None:
        self.check_sql, self.check = check
        self.connection = psycopg.connect(url, autocommit=True, cursor_factory=RawCursor)
        self.pid = self.connection.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        (self.user_sql, self.user), (self.email_sql, emails), (self.event_sql, self.event) = captured
        self.email = emails[0]  # the emails' INSERT runs once per email: a list of value lists
        self.made = 0

    def _values(self) -> tuple[list[Any], list[Any], list[Any]]:
        self.made += 1
        id = uuid.uuid4().hex
        name = f"u{self.made}.{id[:6]}@example.com"
        urn = f"urn:li:corpuser:{name}"
        user = [id, name, name, urn, *self.user[4:]]
        email = [id, self.email[1], name, *self.email[3:]]
        event = [*self.event[:2], urn, *self.event[3:]]
        return user, email, event

    def run(self, batch: int, creates: int, checked: bool = False) -> tuple[float, float, float]:
        """Send ``creates`` creates, ``batch`` a transaction, each ``checked`` or not; return ms per create.

        The three figures: the backend's CPU, this client's, the wall time.
        """
        cursor = self.connection.cursor()
        backend, client, wall = process_cpu(self.pid), time.process_time(), time.perf_counter()
        for _ in range(0, creates, batch):
            with self.connection.pipeline():
                if batch > 1:
                    cursor.execute("BEGIN")
                for _ in range(batch):
                    user, email, event = self._values()
                    cursor.execute(self.user_sql, user, prepare=True)
                    cursor.execute(self.email_sql, email, prepare=True)
                    cursor.execute(self.event_sql, event, prepare=True)
                    if checked:
                        cursor.execute(self.check_sql, self.check, prepare=True)
                if batch > 1:
                    cursor.execute("COMMIT")
        done = len(range(0, creates, batch)) * batch
        return (
            (process_cpu(self.pid) - backend) / done * 1e3,
            (time.process_time() - client) / done * 1e3,
            (time.perf_counter() - wall) / done * 1e3,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="the server's admin database")
    parser.add_argument("--creates", type=int, default=4_000, help="creates per batch size and round [4,000]")
    parser.add_argument("--batches", default="1,4,8,16", help="creates per transaction [1,4,8,16]")
    options = parser.parse_args()
    batches = [int(b) for b in options.batches.split(",")]
    database = FreshDatabase("postgresql", Path("."), options.postgres_url)
    try:
        url = database.url
        check = _captured_check(url)
        replay = _Replay(url.replace("postgresql+psycopg://", "postgresql://"), _captured_create(url), check)
        replay.run(1, 500, checked=True)  # warm: prepared statements, the backend's caches
        variants = [(batch, False) for batch in batches] + [(1, True)]
        results: dict[tuple[int, bool], list[tuple[float, float, float]]] = {v: [] for v in variants}
        for _ in range(2):
            for batch, checked in variants:
                results[batch, checked].append(replay.run(batch, options.creates, checked))
        replay.connection.close()
    finally:
        database.drop()
    first = results[batches[0], False]
    base = min(r[0] for r in first), min(r[1] for r in first)
    print(f"{options.creates:,} creates per batch size and round, two rounds, best of each:")
    print("| creates a transaction | PostgreSQL CPU ms/create | client CPU ms/create | wall ms/create |")
    print("| ---: | ---: | ---: | ---: |")
    for batch, checked in variants:
        backend, client, wall = (min(r[i] for r in results[batch, checked]) for i in range(3))
        label = f"{batch}, with the credential's check" if checked else str(batch)
        print(
            f"| {label} | {backend:.3f} ({backend / base[0]:.2f}×) | {client:.3f} ({client / base[1]:.2f}×)"
            f" | {wall:.3f} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
