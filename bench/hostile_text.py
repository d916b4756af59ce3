"""Tally the answers of a server to the hostile-text probes (ADR 0021), on SQLite and PostgreSQL.

Starts ``scimhub serve`` on a fresh database of each engine, sends every probe of
``tests/integration/test_hostile_text.py`` (a NUL at each entry point, over-long values,
ETags that cannot be ours) and prints how many answers fell in each status class, and which
answered 5xx; under ``-1``, in how many of 20 rounds an NFC and an NFD spelling of one name
became two users. Run from the repository root::

    .venv/bin/python -m bench.hostile_text
    PYTHONPATH=<other checkout>/src .venv/bin/python -m bench.hostile_text   # the same probes, other code
"""

from __future__ import annotations

import collections
import tempfile
import unicodedata
from pathlib import Path

import httpx
from tests.databases import POSTGRES_ADMIN_URL, postgres_database
from tests.integration import test_hostile_text as probes
from tests.integration.conftest import LiveServer, running_server, scimhub


def tally(database_url: str) -> tuple[collections.Counter[int], list[str]]:
    """Return the status classes the probes got from a server on ``database_url``, and the 5xx."""
    directory = Path(tempfile.mkdtemp())
    token = scimhub("token", "create", "--name", "bench", database_url=database_url).stdout.splitlines()[-1]
    with running_server(database_url, directory / "serve.log") as (_, url):
        live = LiveServer(url, database_url, token, directory / "serve.log")
        classes: collections.Counter[int] = collections.Counter()
        failures: list[str] = []

        def note(name: str, response: httpx.Response) -> None:
            classes[response.status_code // 100 * 100] += 1
            if response.status_code >= 500:
                failures.append(name)

        with live.client() as scim:
            targets = {
                "user": scim.post("/Users", json={"userName": probes.unique("t")}).json()["id"],
                "group": scim.post("/Groups", json={"displayName": probes.unique("t")}).json()["id"],
            }
            for probe in probes.NUL_PROBES:
                note(f"NUL {probe.name}", probes.send(live, probe, targets))
            long = probes.LONG
            for path, body in (
                ("/Users", {"userName": long}),
                ("/Users", {"userName": probes.unique("u"), "externalId": long}),
                ("/Users", {"userName": probes.unique("u"), "emails": [{"value": long}]}),
                ("/Groups", {"displayName": long}),
                ("/Users", {"userName": probes.unique("u"), "displayName": long}),
            ):
                note(f"long {path} {','.join(body)}", scim.post(path, json=body))
            user = f"/Users/{targets['user']}"
            change = probes.patch_body({"op": "add", "path": "title", "value": "x"})
            for tag in ('W/"' + "9" * 5000 + '"', 'W/"²"'):
                header = tag.encode("latin-1")
                note(f"If-None-Match {tag[:8]}", scim.get(user, headers={"If-None-Match": header}))
                note(f"If-Match {tag[:8]}", scim.patch(user, json=change, headers={"If-Match": header}))
            twins = 0
            for _ in range(20):  # the probe's look-alike rounds: an NFC and an NFD spelling of one name
                name = f"José.Müller-{probes.uuid.uuid4().hex[:8]}@contoso.com"
                answers = [
                    scim.post("/Users", json={"userName": unicodedata.normalize(form, name)}).status_code
                    for form in ("NFC", "NFD")
                ]
                twins += answers == [201, 201]
            classes[-1] = twins
    return classes, failures


def main() -> None:
    """Print the tally on each engine."""
    sqlite = f"sqlite:///{tempfile.mkdtemp()}/scimhub.db"
    print("sqlite", *tally(sqlite))
    with postgres_database(POSTGRES_ADMIN_URL) as url:
        print("postgresql", *tally(url))


if __name__ == "__main__":
    main()
