"""What one ``POST /Bulk`` costs against the same writes sent one request each, on SQLite and PostgreSQL.

    .venv/bin/python bench/bulk_request.py [--backend sqlite|postgresql|both] [--operations N] [--json FILE]

For each backend: a fresh database, ``python -m scimhub serve``, one client
connection. ``--operations`` user creations (1,000 by default: ``maxOperations``)
are sent as single ``POST /Users`` requests, then as one ``POST /Bulk``; then
as many PATCHes (``active`` false) the same two ways. Reported: the wall-clock
milliseconds per operation each way, and the whole bulk request's seconds, the
figure ``SCIMHUB_BULK_TIMEOUT_SECONDS`` (ADR 0034) must leave room for.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from options import add_database_options, chosen_backends
from servers import FreshDatabase, scimhub_server, scimhub_token

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SUSPEND = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}


def _check(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url} answered {response.text[:300]}")
    return response


def measure(client: httpx.Client, operations: int) -> dict[str, Any]:
    """Return milliseconds per operation, single requests against one bulk request, for POST and PATCH."""
    started = time.perf_counter()
    singles = [
        _check(client.post("/Users", json={"userName": f"single-{n}"}), 201).json()["id"]
        for n in range(operations)
    ]
    single_post = time.perf_counter() - started
    started = time.perf_counter()
    for id in singles:
        _check(client.patch(f"/Users/{id}", json=SUSPEND), 200)
    single_patch = time.perf_counter() - started

    creates = [
        {"method": "POST", "path": "/Users", "bulkId": f"b{n}", "data": {"userName": f"bulk-{n}"}}
        for n in range(operations)
    ]
    started = time.perf_counter()
    answered = _check(
        client.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": creates}), 200
    ).json()
    bulk_post = time.perf_counter() - started
    ids = [op["location"].rsplit("/", 1)[1] for op in answered["Operations"] if op["status"] == "201"]
    if len(ids) != operations:
        raise RuntimeError(f"the bulk POST created {len(ids)} of {operations} users")
    patches = [{"method": "PATCH", "path": f"/Users/{id}", "data": SUSPEND} for id in ids]
    started = time.perf_counter()
    answered = _check(
        client.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": patches}), 200
    ).json()
    bulk_patch = time.perf_counter() - started
    if any(op["status"] != "200" for op in answered["Operations"]):
        raise RuntimeError("a bulk PATCH failed")
    per = 1000 / operations
    return {
        "POST ms/op, single requests": round(single_post * per, 2),
        "POST ms/op, one bulk": round(bulk_post * per, 2),
        "PATCH ms/op, single requests": round(single_patch * per, 2),
        "PATCH ms/op, one bulk": round(bulk_patch * per, 2),
        "bulk POST seconds": round(bulk_post, 2),
        "bulk PATCH seconds": round(bulk_patch, 2),
    }


def main() -> None:
    """Measure each backend and print the figures as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_options(parser)
    parser.add_argument("--operations", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, Any] = {"operations": args.operations}
    with tempfile.TemporaryDirectory(prefix="scimhub-bulk-") as workdir:
        for backend in chosen_backends(args):
            database = FreshDatabase(backend, Path(workdir), args.postgres_url)
            server = None
            try:
                token = scimhub_token(database.url)
                server = scimhub_server(database.url, Path(workdir) / f"{backend}.log")
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=server.url + "/scim/v2", headers=headers, timeout=300) as client:
                    figures[backend] = measure(client, args.operations)
                print(f"{backend}: {figures[backend]}", file=sys.stderr)
            finally:
                if server is not None:
                    server.stop()
                database.drop()
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
