"""What reading a user's grants costs when roles flow through nested groups (ADR 0038), in-process.

    .venv/bin/python bench/nested_grants.py [--backend sqlite|postgresql|both] [--reads N]

Every authenticated request reads its user's grants (``RoleRows.grants``). The
benchmark builds, on a fresh database, a user in three groups with nothing nested,
a user at the bottom of a chain of ten groups, and a user in a cycle of two groups,
with a role on every group, then times ``grants([user])`` for each (p50, p99, in ms).
Run it with this commit's code and with a commit before ADR 0038 (``PYTHONPATH``
at that checkout's ``src``) to compare the recursive read with the flat one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from options import add_database_options, chosen_backends
from servers import FreshDatabase

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.settings import Settings
from scimhub.wiring import Services, build


def _group(services: Services, name: str, *members: str) -> str:
    change = MemberChange(add=tuple(Member(m) for m in members))
    group = services.groups.create(SYSTEM, GroupEdit({"displayName": name}, change))
    services.roles.assign(SYSTEM, Role.READER, "group", group.id)
    return group.id


def _shapes(services: Services) -> dict[str, str]:
    """Store the three shapes; return the user id of each."""
    flat = services.users.create(SYSTEM, UserEdit({"userName": "flat"})).id
    for i in range(3):
        _group(services, f"flat-{i}", flat)
    chained = services.users.create(SYSTEM, UserEdit({"userName": "chained"})).id
    below = _group(services, "chain-0", chained)
    for i in range(1, 10):
        below = _group(services, f"chain-{i}", below)
    cycled = services.users.create(SYSTEM, UserEdit({"userName": "cycled"})).id
    a = _group(services, "cycle-a", cycled)
    b = _group(services, "cycle-b", a)
    services.groups.update(SYSTEM, a, lambda g: GroupEdit(g.doc, MemberChange(add=(Member(b),))))
    return {"3 groups, none nested": flat, "chain of 10 groups": chained, "cycle of 2 groups": cycled}


def _time(services: Services, user_id: str, reads: int) -> tuple[float, float, int]:
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        with services.store.read() as tx:
            grants = tx.roles.grants([user_id])[user_id]
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], len(grants)


def main() -> None:
    """Build the shapes on each backend and print the time per grants read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--reads", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scimhub-grants-") as workdir:
        for backend in chosen_backends(options):
            database = FreshDatabase(backend, Path(workdir), options.postgres_url)
            try:
                services = build(Settings(database_url=database.url))
                try:
                    for shape, user_id in _shapes(services).items():
                        p50, p99, count = _time(services, user_id, options.reads)
                        print(f"{backend:10} {shape:22} grants {count:2}  p50 {p50:.3f} ms  p99 {p99:.3f} ms")
                finally:
                    services.close()
            finally:
                database.drop()


if __name__ == "__main__":
    main()
