"""What holding the members costs a member add (ADR 0020): time and WAL per add, in-process.

    .venv/bin/python bench/member_locks.py [--backend sqlite|postgresql|both] [--users N] [--adds N]

Adds members to a group through ``Groups.update`` (what a PATCH runs, without
HTTP), one member per call and then 100 per call, each to a group of its own
size class, and reports the wall time per call (p50, p99). Run it against two
commits (docs/benchmarks.md shows how) to compare the code with and without the
locks; on a shared machine the times are noisy.

On PostgreSQL it also isolates the lock: the statement that reads the members,
with and without ``FOR KEY SHARE``, under ``EXPLAIN (ANALYZE, WAL)`` on members
not yet locked: its execution time in the server and the WAL it writes (a row
lock is written into the row's header: one WAL record per row).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from options import add_database_options, chosen_backends
from seed import seed_users
from servers import FreshDatabase, scimhub_token
from sqlalchemy import text

from scimhub.directory.actors import Actor
from scimhub.directory.groups import GroupEdit
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.settings import Settings
from scimhub.wiring import Services, build


def _adding(ids: list[str]) -> Callable[[Group], GroupEdit]:
    members = tuple(Member(id) for id in ids)
    return lambda group: GroupEdit(group.doc, MemberChange(add=members))


_READ = "SELECT id, user_name FROM users WHERE id = ANY(:ids)"
"""What ``names(ids)`` reads, with one array parameter in place of SQLAlchemy's expanded IN list."""


def _lock_cost(services: Services, ids: list[str], size: int, refer: bool) -> None:
    """Print the server's time and WAL for reading ``size`` members at a time, locked or not."""
    times, records, bytes_ = [], 0, 0
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    lock = " FOR KEY SHARE" if refer else ""
    for batch in batches:
        with services.store.engine.begin() as connection:
            plan = connection.execute(
                text(f"EXPLAIN (ANALYZE, WAL, FORMAT JSON) {_READ}{lock}"),
                {"ids": batch},
            ).scalar_one()[0]
        times.append(plan["Execution Time"])
        records += plan["Plan"].get("WAL Records", 0)
        bytes_ += plan["Plan"].get("WAL Bytes", 0)
    n = len(batches)
    print(
        f"  | read {size} member(s){lock or ' (no lock)'} | {n} | {statistics.median(times):.3f}"
        f" | {records / n:.0f} | {bytes_ / n:,.0f} |",
        flush=True,
    )


def _measure(services: Services, actor: Actor, name: str, batches: list[list[str]]) -> None:
    group = services.groups.create(actor, GroupEdit({"displayName": name}))
    seconds = []
    for batch in batches:
        started = time.perf_counter()
        services.groups.update(actor, group.id, _adding(batch))
        seconds.append(time.perf_counter() - started)
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"  | {name} | {len(batches)} | {statistics.median(ms):.2f} | {p99:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--users", type=int, default=20_000, help="users to seed [20,000]")
    parser.add_argument("--adds", type=int, default=300, help="calls per scenario [300]")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scimhub-locks-") as workdir:
        for backend in chosen_backends(options):
            database = FreshDatabase(backend, Path(workdir), options.postgres_url)
            try:
                scimhub_token(database.url)
                services = build(Settings(database_url=database.url))
                with services.store.read() as tx:
                    admin = tx.users.get_by_name("admin")
                assert admin is not None
                actor = Actor(admin.id, admin.urn)
                users = [u.id for u in seed_users(services.store, actor, "lock", options.users)]
                database.settle()
                singles = [[id] for id in users[: options.adds]]
                hundreds = [users[i : i + 100] for i in range(0, min(len(users), options.adds * 100), 100)]
                print(f"\n{backend}, {options.users:,} users, one thread")
                print("  | scenario | calls | p50 ms | p99 ms |")
                print("  | --- | ---: | ---: | ---: |")
                _measure(services, actor, "add 1 member", singles)
                _measure(services, actor, "add 100 members", hundreds[: max(1, options.adds // 3)])
                if backend == "postgresql":
                    rest = users[options.adds + options.adds // 3 * 100 :]
                    half = len(rest) // 2
                    print("\n  | statement | runs | server ms p50 | WAL records | WAL bytes |")
                    print("  | --- | ---: | ---: | ---: | ---: |")
                    for size, first in ((1, 0), (100, options.adds)):
                        for refer, part in ((False, rest[:half]), (True, rest[half:])):
                            chosen = part[first : first + options.adds * size // (1 if size == 1 else 3)]
                            _lock_cost(services, chosen, size, refer)
                services.close()
            finally:
                database.drop()


if __name__ == "__main__":
    sys.exit(main())
