"""Substring searches (``co``, ``ew``) of two versions of the server, alternated on one database.

    .venv/bin/python bench/substrings.py --before /tmp/a/src --after /tmp/b/src [--backend both]
        [--users 100000] [--rounds 7]

A fresh database gets ``--users`` users (bench/seed.py: one email each), and one more whose
fourteen addresses are runs of one letter as long as a string may be: what a naive substring
search pays the product of both lengths for (ADR 0087). Each tree (``git archive <commit> src |
tar -x -C /tmp/a``) is served by its own ``python -m scimhub serve`` through ``PYTHONPATH``. Each
round sends every search once to each server, the order swapped every round; the first round
warms up. It prints the median time of each search, and after ÷ before.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bounds import runs_user
from options import add_database_options, chosen_backends
from seed import seed_users
from servers import FreshDatabase, ServerProcess, scimhub_server, scimhub_token

from scimhub.directory.actors import SYSTEM
from scimhub.settings import Settings
from scimhub.wiring import build

RUN = "a" * 3_999 + "b"  # matches nowhere in the runs, and at every offset nearly


def _or(term: str, count: int) -> str:
    return " or ".join([term] * count)


SEARCHES = {
    'title co "zq"': 'title co "zq"',
    '20 × emails.value co "zq…"': " or ".join(f'emails.value co "zq{i}"' for i in range(20)),
    'not (20 × title co "zq…")': "not (" + " or ".join(f'title co "zq{i}"' for i in range(20)) + ")",
    'userName co "zq"': 'userName co "zq"',
    'externalId co "zq" (case-exact)': 'externalId co "zq"',
    'emails.value ew ".org"': 'emails.value ew ".org"',
    'title ew "zq"': 'title ew "zq"',
    "title co, 40 characters": f'title co "{"zq" * 20}"',
    "emails.value ew, 40 characters": f'emails.value ew "{"zq" * 20}"',
    "runs: co, 4,000 characters": f'addresses.formatted co "{RUN}"',
    "runs: ew, 4,000 characters": f'addresses.formatted ew "{RUN}"',
    "runs: 18 × co, 190 characters": _or(f'addresses.formatted co "{RUN[-190:]}"', 18),
    "runs: 20 × co, 33 characters": _or(f'addresses.formatted co "{RUN[-33:]}"', 20),
    "runs: 20 × co, 32 characters": _or(f'addresses.formatted co "{RUN[-32:]}"', 20),
    "runs: 20 × ew, 33 characters": _or(f'addresses.formatted ew "{RUN[-33:]}"', 20),
}


def _time(client: httpx.Client, filter: str) -> float:
    started = time.perf_counter()
    response = client.get("/Users", params={"filter": filter, "count": "10"})
    if response.status_code != 200:
        raise RuntimeError(f"{filter[:60]}: {response.status_code} {response.text[:200]}")
    return time.perf_counter() - started


def measure(backend: str, args: argparse.Namespace) -> None:
    """Seed one database, serve it from both trees, and print the searches' medians."""
    with tempfile.TemporaryDirectory(prefix="scimhub-substrings-") as workdir:
        database = FreshDatabase(backend, Path(workdir), args.postgres_url)
        servers: dict[str, ServerProcess] = {}
        try:
            token = scimhub_token(database.url)
            hub = build(Settings(database_url=database.url))
            try:
                seed_users(hub.store, SYSTEM, "s", args.users)
            finally:
                hub.close()
            database.settle()
            for label, source in (("before", args.before), ("after", args.after)):
                log = Path(workdir) / f"{label}.log"
                servers[label] = scimhub_server(database.url, log, env={"PYTHONPATH": source})
            clients = {
                label: httpx.Client(
                    base_url=server.url + "/scim/v2",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=600,
                )
                for label, server in servers.items()
            }
            runs_user(clients["before"])
            times: dict[tuple[str, str], list[float]] = {
                (s, label): [] for s in SEARCHES for label in servers
            }
            for round_ in range(args.rounds + 1):
                order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
                for name, filter in SEARCHES.items():
                    for label in order:
                        spent = _time(clients[label], filter)
                        if round_:  # the first round warms up
                            times[(name, label)].append(spent)
        finally:
            for server in servers.values():
                server.stop()
            database.drop()
    print(f"\n{backend}, {args.users:,} users and the runs, medians of {args.rounds} rounds:")
    print("| search | before ms | after ms | after ÷ before |\n| --- | ---: | ---: | ---: |")
    for name in SEARCHES:
        before, after = (statistics.median(times[(name, label)]) * 1e3 for label in ("before", "after"))
        print(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_options(parser)
    parser.add_argument("--before", required=True, help="the source tree (its src/) of the baseline")
    parser.add_argument("--after", required=True)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for backend in chosen_backends(args):
        measure(backend, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
