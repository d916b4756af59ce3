"""GET of a 5,000-member group over HTTP, both engines: streamed (ADR 0019), released when the client leaves.

The expected document is what the handler answers when it reads the group whole,
rendered the way ``web/scim.py`` renders any other body (``orjson.dumps``). The
module runs its own server on its own database: its 5,000 users would push other
tests' users off the first page of the shared server's lists.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import orjson
import pytest
from bench.seed import seed_group, seed_users
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scimhub.directory.actors import SYSTEM
from scimhub.scim.handler import ScimHandler
from scimhub.scim.messages import ScimRequest, ScimResponse
from scimhub.settings import Settings
from scimhub.wiring import build
from tests.conftest import BACKENDS
from tests.integration.conftest import SCIM, LiveServer, own_server
from tests.integration.test_scim_http import new_group, patch, unique

MEMBERS = 5_000
"""Five chunks of the server's 1,000."""


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Yield a server of this module's own, on a fresh database per backend, with an admin token."""
    yield from own_server(request, tmp_path_factory)


@pytest.fixture(scope="module")
def crowd(live: LiveServer) -> Iterator[str]:
    """Yield the id of a group of 5,000 users and one nested group (with a ``display``)."""
    hub = build(Settings(database_url=live.database_url), upgrade=False)
    try:
        users = seed_users(hub.store, SYSTEM, unique("stream"), MEMBERS)
        group = seed_group(hub.groups, SYSTEM, unique("streamed"), [user.id for user in users])
    finally:
        hub.close()
    with live.client() as scim:
        nested = new_group(scim)
        added = patch(
            scim,
            f"/Groups/{group.id}",
            {"op": "add", "path": "members", "value": [{"value": nested["id"], "display": "Nested"}]},
        )
        assert added.status_code == 204, added.text
    yield group.id


def _whole(live: LiveServer, group_id: str, query: dict[str, str]) -> ScimResponse:
    """Return the handler's answer when it reads the group whole, for the live server's base URL."""
    hub = build(Settings(database_url=live.database_url), upgrade=False)
    try:
        handler = ScimHandler(hub.users, hub.groups, hub.settings, members_per_chunk=10**9)
        return handler.handle(ScimRequest("GET", f"/Groups/{group_id}", live.url + SCIM, query, actor=SYSTEM))
    finally:
        hub.close()


@pytest.mark.parametrize(
    "query",
    [{}, {"attributes": "members.value"}, {"excludedAttributes": "meta,members.display"}],
    ids=["full", "members.value", "not-meta,display"],
)
def test_a_large_group_is_streamed_as_the_document_a_whole_read_sends(
    live: LiveServer, scim: httpx.Client, crowd: str, query: dict[str, str]
) -> None:
    """The body arrives chunked, and its bytes, status and ETag are those of the group read whole."""
    expected = _whole(live, crowd, query)

    response = scim.get(f"/Groups/{crowd}", params=query)

    assert response.status_code == expected.status == 200
    assert response.headers.get("transfer-encoding") == "chunked"
    assert response.headers["etag"] == expected.headers["ETag"]
    assert response.headers["content-type"] == "application/scim+json"
    assert response.content == orjson.dumps(expected.body)
    assert len(response.json()["members"]) == MEMBERS + 1


def _eventually(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def _open_transactions(database_url: str) -> int:
    """Return how many of the server's connections are inside a transaction (PostgreSQL)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _readers_done(database_url: str) -> bool:
    """Tell whether SQLite could checkpoint its whole WAL: it cannot while a read transaction is open."""
    with closing(sqlite3.connect(make_url(database_url).database or "", timeout=0.2)) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def test_a_client_that_leaves_mid_stream_leaves_no_transaction_open(
    live: LiveServer, scim: httpx.Client, crowd: str
) -> None:
    """A client that reads the first bytes and hangs up: the server logs it, ends the read transaction
    (no connection of it stays in a transaction on PostgreSQL; SQLite can checkpoint its WAL whole),
    and the next write is not held up."""
    # A small receive window keeps the server from handing the whole body to the kernel at once.
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
    headers = {"Authorization": f"Bearer {live.token}"}
    with httpx.Client(base_url=live.url + SCIM, headers=headers, transport=transport, timeout=30) as client:
        with client.stream("GET", f"/Groups/{crowd}") as response:
            assert response.status_code == 200
            assert next(response.iter_raw())

    path = f"{SCIM}/Groups/{crowd}"
    left = f"GET {path} ended before its body was sent whole: the client left"
    assert _eventually(lambda: left in live.log.read_text()), "the server did not see the client leave"
    if make_url(live.database_url).get_backend_name() == "postgresql":
        assert _eventually(lambda: _open_transactions(live.database_url) == 0)
    else:
        assert _eventually(lambda: _readers_done(live.database_url))
    started = time.monotonic()
    renamed = patch(scim, f"/Groups/{crowd}", {"op": "replace", "path": "externalId", "value": unique("ext")})
    assert renamed.status_code == 204 and time.monotonic() - started < 5
