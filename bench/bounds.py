"""Time the worst request each bound of ADR 0025 still accepts, over HTTP, on each engine.

    python bench/bounds.py --backend both --users 10000

A fresh database gets ``--users`` users (bench/seed.py, Entra's shape: one email
each), then a server; each case below is the costliest request its bound lets
through, sent ``--repeat`` times (the slowest is reported). The refused case one
step past each bound is sent too, to show it is refused, and how fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from options import add_database_options, chosen_backends
from seed import seed_users
from servers import FreshDatabase, scimhub_server, scimhub_token

from scimhub.directory.actors import SYSTEM
from scimhub.query.filter.tree import MAX_LENGTH, MAX_TERMS
from scimhub.scim.attribute_lists import MAX_NAMES
from scimhub.scim.bounds import MAX_VALUES
from scimhub.scim.patch import MAX_DOCUMENT_BYTES, MAX_WORK
from scimhub.scim.scalars import MAX_STRING_BYTES
from scimhub.settings import Settings
from scimhub.store.sql.filters import SHORT_SUBSTRING
from scimhub.wiring import build

SCIM = "/scim/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _or(term: Callable[[int], str], count: int = MAX_TERMS) -> str:
    return " or ".join(term(i) for i in range(count))


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _emails(count: int, tag: str) -> list[dict[str, str]]:
    return [{"value": f"{tag}{i}@bounds.example", "type": "work"} for i in range(count)]


def _user(client: httpx.Client, tag: str, emails: int) -> str:
    response = client.post("/Users", json={"userName": f"bounds-{tag}", "emails": _emails(emails, tag)})
    response.raise_for_status()
    return str(response.json()["id"])


def runs_user(client: httpx.Client) -> None:
    """Store a user whose addresses are runs of one letter as long as a string may be (MAX_STRING_BYTES)."""
    run = "a" * (MAX_STRING_BYTES - 100)
    addresses = [{"formatted": f"{run}{i}"} for i in range(MAX_DOCUMENT_BYTES // MAX_STRING_BYTES - 2)]
    client.post("/Users", json={"userName": "bounds-runs", "addresses": addresses}).raise_for_status()


def _substring_cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    """The searches a naive substring search pays the product of both lengths for (ADR 0087).

    The longest value PostgreSQL finds by ``strpos``, and the longest a filter may hold, over ``_runs_user``.
    """
    longest = MAX_LENGTH - 100
    values = {
        f"a…ab ({SHORT_SUBSTRING} characters)": "a" * (SHORT_SUBSTRING - 1) + "b",
        f"a…ab ({longest} characters)": "a" * (longest - 1) + "b",
        f"ba…a ({longest} characters)": "b" + "a" * (longest - 1),
    }
    return [
        (
            f"filter: addresses.formatted {op} {name} over runs of 64 KB",
            "GET",
            "/Users",
            {"params": {"filter": f'addresses.formatted {op} "{value}"'}},
        )
        for op in ("co", "ew")
        for name, value in values.items()
    ]


def _cases(client: httpx.Client, member_ids: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Return (name, method, path, request kwargs) of each worst accepted request, then the refused ones."""
    wide = _user(client, "wide", MAX_WORK // MAX_TERMS - 1)  # (stored + 1 value) × terms = MAX_WORK
    many = _user(client, "many", MAX_WORK // 1000 - 1)  # 1000 operations of (stored + 1 value) × 1 term
    fuller = _user(client, "fuller", MAX_WORK // 1000)  # one email more: over the bound
    bare = _user(client, "bare", 0)
    group = client.post("/Groups", json={"displayName": "bounds-group"}).json()["id"]
    contains = _or(lambda i: f'emails.value co "zq{i}"')
    in_value_paths = " or ".join(
        f'emails[type eq "x{i}" and value co "zq{i}"]' for i in range(MAX_TERMS // 2)
    )
    wide_filter = _or(lambda i: f'value co "zq{i}"', MAX_TERMS - 1) + ' or type eq "work"'
    params = {"count": "1000"}
    runs_user(client)
    return [
        ("baseline: a page of 1000 users, no filter", "GET", "/Users", {"params": params}),
        (
            "baseline: 1 × title co (table scan)",
            "GET",
            "/Users",
            {"params": {**params, "filter": 'title co "zq"'}},
        ),
        (
            f"filter: {MAX_TERMS} × emails.value co (table scan)",
            "GET",
            "/Users",
            {"params": {**params, "filter": contains}},
        ),
        *_substring_cases(),
        (
            f"filter: {MAX_TERMS // 2} value paths × 2 terms",
            "GET",
            "/Users",
            {"params": {**params, "filter": in_value_paths}},
        ),
        (
            f"filter: not ({MAX_TERMS} × title co)",
            "GET",
            "/Users",
            {"params": {**params, "filter": "not (" + _or(lambda i: f'title co "zq{i}"') + ")"}},
        ),
        (
            f"filter: {MAX_TERMS} × userName eq (index)",
            "GET",
            "/Users",
            {"params": {**params, "filter": _or(lambda i: f'userName eq "u{i}"')}},
        ),
        (
            f"filter: {MAX_TERMS} × members.value eq",
            "GET",
            "/Groups",
            {"params": {"filter": _or(lambda i: f'members.value eq "m{i}"')}},
        ),
        (
            "sortBy emails.value, 1000 a page",
            "GET",
            "/Users",
            {"params": {**params, "sortBy": "emails.value"}},
        ),
        (
            f"attributes: {MAX_NAMES} names, 1000 a page",
            "GET",
            "/Users",
            {
                "params": {
                    **params,
                    "attributes": ",".join(["emails.value", "name.givenName"] * (MAX_NAMES // 2)),
                }
            },
        ),
        (
            f"PATCH: {MAX_TERMS}-term filter over {MAX_WORK // MAX_TERMS - 1} emails",
            "PATCH",
            f"/Users/{wide}",
            {"json": _patch({"op": "replace", "path": f"emails[{wide_filter}].display", "value": "D"})},
        ),
        (
            f"PATCH: 1000 filtered ops over {MAX_WORK // 1000 - 1} emails",
            "PATCH",
            f"/Users/{many}",
            {
                "json": _patch(
                    *[{"op": "replace", "path": 'emails[type eq "work"].display', "value": "D"}] * 1000
                )
            },
        ),
        (
            "PATCH: 1000 operations",
            "PATCH",
            f"/Users/{bare}",
            {"json": _patch(*[{"op": "replace", "path": "title", "value": "t"}] * 1000)},
        ),
        (
            f"PATCH: replace emails by {MAX_VALUES}",
            "PATCH",
            f"/Users/{bare}",
            {"json": _patch({"op": "replace", "path": "emails", "value": _emails(MAX_VALUES, "v")})},
        ),
        (
            f"PATCH: add {len(member_ids)} members",
            "PATCH",
            f"/Groups/{group}",
            {
                "json": _patch(
                    {"op": "replace", "path": "members", "value": [{"value": m} for m in member_ids]}
                )
            },
        ),
        (
            f"POST: a user of {MAX_VALUES} emails",
            "POST",
            "/Users",
            {
                "json": {
                    "userName": "bounds-fat",
                    "emails": [{"value": f"{i}@f.example"} for i in range(MAX_VALUES)],
                }
            },
        ),
        (
            f"refused: {MAX_TERMS + 1} terms",
            "GET",
            "/Users",
            {"params": {"filter": _or(lambda i: f'userName eq "u{i}"', MAX_TERMS + 1)}},
        ),
        (
            "refused: work over the bound",
            "PATCH",
            f"/Users/{fuller}",
            {
                "json": _patch(
                    *[{"op": "replace", "path": 'emails[type eq "work"].display', "value": "D"}] * 1000
                )
            },
        ),
        (
            f"refused: 30 × {MAX_TERMS}-term filters over 999 emails (the probe, scaled to the bounds)",
            "PATCH",
            f"/Users/{_user(client, 'probe', 999)}",
            {
                "json": _patch(
                    *[
                        {
                            "op": "replace",
                            "path": "emails[" + _or(lambda i: f'value eq "x{i}"') + "].type",
                            "value": "w",
                        }
                    ]
                    * 30
                )
            },
        ),
    ]


def measure(url: str, token: str, repeat: int, member_ids: list[str]) -> list[dict[str, Any]]:
    """Send each case ``repeat`` times; return name, status and the slowest time of each."""
    rows = []
    with httpx.Client(
        base_url=url + SCIM, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        for name, method, path, kwargs in _cases(client, member_ids):
            times, statuses = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                statuses.append(client.request(method, path, **kwargs).status_code)
                times.append(time.perf_counter() - started)
            status = "/".join(str(s) for s in sorted(set(statuses)))
            rows.append({"case": name, "status": status, "slowest_ms": round(max(times) * 1000, 1)})
            print(f"  {status:7}  {max(times) * 1000:8.1f} ms  {name}", flush=True)
    return rows


def main() -> int:
    """Seed, serve and measure on each backend; print a JSON summary at the end."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_options(parser)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for backend in chosen_backends(args):
        with tempfile.TemporaryDirectory() as workdir:
            database = FreshDatabase(backend, Path(workdir), args.postgres_url)
            try:
                token = scimhub_token(database.url)
                hub = build(Settings(database_url=database.url))
                try:
                    users = seed_users(hub.store, SYSTEM, "b", args.users)
                finally:
                    hub.close()
                database.settle()
                member_ids = [user.id for user in users[:MAX_VALUES]]
                server = scimhub_server(database.url, Path(workdir) / "serve.log")
                try:
                    print(f"== {backend}, {args.users} users")
                    results[backend] = measure(server.url, token, args.repeat, member_ids)
                finally:
                    server.stop()
            finally:
                database.drop()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
