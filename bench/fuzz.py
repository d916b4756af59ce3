"""Fuzz a scimhub server with hostile SCIM requests for a number of minutes (issue 11, item 3).

    python bench/fuzz.py --backend sqlite --minutes 5          # starts its own server
    python bench/fuzz.py --url http://127.0.0.1:8080 --token … --minutes 5

Each round sends the fixed corpus of tests/integration/hostile_corpus.py once, then
requests drawn from its hypothesis strategies until the time is up, against a user
and a group made for the run. It prints the count of answers by status; every 5xx,
every answer not in the SCIM Error shape and every request that got no answer within
``--timeout`` seconds is printed with its request, and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import httpx
from hypothesis.errors import NonInteractiveExampleWarning

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests.integration
from options import add_database_options, chosen_backends  # noqa: E402
from servers import FreshDatabase, scimhub_server, scimhub_token  # noqa: E402
from tests.integration.hostile_corpus import Probe, check_answer, corpus, probes  # noqa: E402

SCIM = "/scim/v2"


def _seed(client: httpx.Client) -> tuple[str, str]:
    """Create the user and the group the probes' paths name; return their ids."""
    tag = uuid.uuid4().hex[:8]
    user = client.post("/Users", json={"userName": f"fuzz-{tag}", "emails": [{"value": f"{tag}@x.org"}]})
    group = client.post("/Groups", json={"displayName": f"fuzz-{tag}"})
    user.raise_for_status()
    group.raise_for_status()
    return user.json()["id"], group.json()["id"]


def _send(client: httpx.Client, probe: Probe) -> tuple[int | None, bytes]:
    """Send one probe; return its status and body, or None and the reason when none came back."""
    try:
        response = client.request(
            probe.method, probe.path, params=probe.query or None, content=probe.body, headers=probe.headers()
        )
    except httpx.TimeoutException:
        return None, b"timeout"
    return response.status_code, response.content


def fuzz(url: str, token: str, minutes: float, timeout: float) -> int:
    """Fuzz the server at ``url`` for ``minutes``; print the counts; return the number of failures."""
    counts: collections.Counter[str] = collections.Counter()
    failures = 0
    deadline = time.monotonic() + minutes * 60
    drawn = probes()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url + SCIM, headers=headers, timeout=timeout) as client:
        user, group = _seed(client)
        fixed = [probe.at(user, group) for probe in corpus()]
        rounds = 0
        while time.monotonic() < deadline:
            batch = fixed if rounds == 0 else []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                batch += [drawn.example().at(user, group) for _ in range(50)]
            rounds += 1
            for probe in batch:
                if time.monotonic() >= deadline:
                    break
                status, body = _send(client, probe)
                counts["timeout" if status is None else str(status)] += 1
                fault = "no answer within the timeout" if status is None else check_answer(status, body)
                if fault is not None:
                    failures += 1
                    print(f"FAIL {fault}: {probe.method} {probe.path} {probe.query} body={probe.body!r:.300}")
                    if status is None:
                        user, group = _seed(client)  # the server may have been busy: carry on
    total = sum(counts.values())
    print(
        f"{total} requests in {minutes:g} min: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    )
    print(f"failures (5xx, timeouts, errors not SCIM-shaped): {failures}")
    return failures


def main() -> int:
    """Run the campaign against ``--url``, or against servers of its own on each ``--backend``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_options(parser)
    parser.add_argument("--url", help="a running server; with --token, instead of starting one")
    parser.add_argument("--token", help="an admin token of the server at --url")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to fuzz each server")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take")
    args = parser.parse_args()
    if args.url:
        return 1 if fuzz(args.url, args.token, args.minutes, args.timeout) else 0
    failed = 0
    for backend in chosen_backends(args):
        with tempfile.TemporaryDirectory() as workdir:
            database = FreshDatabase(backend, Path(workdir), args.postgres_url)
            try:
                token = scimhub_token(database.url)
                server = scimhub_server(database.url, Path(workdir) / "serve.log")
                try:
                    print(f"== {backend}: fuzzing {server.url} for {args.minutes:g} min")
                    failed += fuzz(server.url, token, args.minutes, args.timeout)
                finally:
                    server.stop()
                    errors = _server_errors((Path(workdir) / "serve.log").read_text())
                    print(f"errors and tracebacks in the server log: {len(errors)}")
                    for line in errors:
                        print("  " + line[:600])
            finally:
                database.drop()
    return 1 if failed else 0


def _server_errors(log: str) -> list[str]:
    """Return the log's error lines: JSON lines at level error or with a traceback, and raw tracebacks.

    The words of a line's message are the fuzzer's own input, echoed in client-error details,
    so a line is judged by its level and fields, never by what its message says.
    """
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "Traceback" in line:
                found.append(line)
            continue
        if isinstance(record, dict) and (
            record.get("level") in ("error", "critical") or "exception" in record
        ):
            found.append(line)
    return found


if __name__ == "__main__":
    sys.exit(main())
