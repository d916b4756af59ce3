"""PostgreSQL stopped and started under load: 503 + Retry-After in each API's error shape, then recovery.

The cluster is a private one (``bench/pgcluster.py``) on a free port: the shared
PostgreSQL on 5432 is never stopped. While it is down, every request that needs
the database is answered at once with 503 and ``Retry-After``: SCIM's Error
message under the SCIM base (RFC 7644 §3.12), the JSON API's error body under
/api/v1, the feed's under the events poll; /readyz says 503 and /healthz 200.
Once it is back, the same server answers 2xx again without being restarted,
and its log holds one line for the outage, not a traceback per request.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from bench import pgcluster
from sqlalchemy import Engine, create_engine, text

from scimhub.errors import ServiceUnavailable
from scimhub.store.sql import engine as engines
from tests.integration.conftest import running_server, scimhub

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
REQUEST_BOUND_SECONDS = 15.0
"""Far above a 503's time (connect refused at once, or ``connect_timeout`` of 5 s), far below a hang."""


@dataclass(frozen=True)
class Answer:
    """One request of the load and what came back."""

    kind: str
    status: int
    seconds: float
    headers: httpx.Headers
    body: object


@pytest.fixture
def cluster() -> Iterator[pgcluster.PrivatePostgres]:
    """Yield a private PostgreSQL cluster, running; destroy it afterwards."""
    reason = pgcluster.available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the outage test must run)")
        pytest.skip(reason)
    pg = pgcluster.PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def _requests(client: httpx.Client, serial: int) -> list[tuple[str, httpx.Request]]:
    body = {"schemas": [USER], "userName": f"outage-{serial}"}
    return [
        ("scim-post", client.build_request("POST", "/scim/v2/Users", json=body)),
        ("scim-get", client.build_request("GET", "/scim/v2/Users?count=5")),
        ("api-get", client.build_request("GET", "/api/v1/users")),
        ("feed", client.build_request("GET", "/openapi/v1/events/poll?limit=5")),
    ]


def _load(url: str, token: str, stop: threading.Event, answers: list[Answer]) -> None:
    """Send the four kinds of request in turn until ``stop``; record each answer."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        serial = 0
        while not stop.is_set():
            serial += 1
            for kind, request in _requests(client, serial):
                started = time.monotonic()
                response = client.send(request)
                try:
                    body = response.json() if response.content else None
                except ValueError:  # not JSON: a plain-text 500, say; the assertions name it
                    body = response.text
                answers.append(
                    Answer(kind, response.status_code, time.monotonic() - started, response.headers, body)
                )


@contextmanager
def _loaded(url: str, token: str) -> Iterator[list[Answer]]:
    """Load the server at ``url`` (``_load``) while the block runs, once it answered 8 requests;
    yield the answers as they come."""
    answers: list[Answer] = []
    stop = threading.Event()
    loader = threading.Thread(target=_load, args=(url, token, stop, answers), daemon=True)
    loader.start()
    try:
        assert _wait_until(lambda: len(answers) >= 8, 20), "no load before the fault"
        yield answers
    finally:
        stop.set()
        loader.join(60)


def _wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _scimhub_database(cluster: pgcluster.PrivatePostgres) -> tuple[str, str]:
    """Create scimhub's database on ``cluster``; return its URL and an administrator's token."""
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE scimhub"))
    admin.dispose()
    database_url = cluster.url.rsplit("/", 1)[0] + "/scimhub"
    token = scimhub("token", "create", "--name", "outage", database_url=database_url).stdout.splitlines()[-1]
    return database_url, token


def _healthy(url: str, answers: list[tuple[int, float]]) -> bool:
    """Ask ``/healthz`` once; note its status and time in ``answers``; return True (for ``_wait_until``)."""
    started = time.monotonic()
    status = httpx.get(url + "/healthz", timeout=30).status_code
    answers.append((status, time.monotonic() - started))
    return True


def _recovered(answers: list[Answer], since: int) -> bool:
    """Whether every kind of request was answered 2xx since the ``since``-th answer."""
    kinds = {"scim-post", "scim-get", "api-get", "feed"}
    return {a.kind for a in answers[since:] if 200 <= a.status < 300} >= kinds


def test_outage_is_503_with_retry_after_then_recovers(
    cluster: pgcluster.PrivatePostgres, tmp_path: Path
) -> None:
    """While PostgreSQL is down every answer is 2xx or a fast, well-shaped 503; afterwards 2xx again."""
    database_url, token = _scimhub_database(cluster)
    log = tmp_path / "serve.log"
    with running_server(database_url, log) as (process, url), _loaded(url, token) as answers:
        cluster.stop("fast")
        outage_from = len(answers)
        assert _wait_until(lambda: len(answers) >= outage_from + 8, 20), "no answers in the outage"
        ready, health = httpx.get(url + "/readyz", timeout=20), httpx.get(url + "/healthz", timeout=20)
        cluster.start()
        back_from = len(answers)
        recovered = _wait_until(lambda: _recovered(answers, back_from), 30)
    during = answers[outage_from:back_from]
    assert ready.status_code == 503 and health.status_code == 200
    assert recovered, f"no 2xx of every kind after PostgreSQL came back: {answers[back_from:][-8:]}"
    assert all(a.status in (200, 201, 503) for a in answers), sorted({(a.kind, a.status) for a in answers})
    assert max(a.seconds for a in during) < REQUEST_BOUND_SECONDS
    refused = [a for a in during if a.status == 503]
    assert {a.kind for a in refused} == {"scim-post", "scim-get", "api-get", "feed"}
    for answer in refused:
        assert int(answer.headers["retry-after"]) > 0
        if answer.kind.startswith("scim"):
            assert answer.headers["content-type"].startswith("application/scim+json")
            assert answer.body["schemas"] == [ERROR] and answer.body["status"] == "503"  # type: ignore[index]
        else:
            assert answer.body["status"] == 503 and answer.body["error"] == "serviceUnavailable"  # type: ignore[index]
        assert "unavailable" in answer.body["detail"]  # type: ignore[index]
    text_log = log.read_text()
    assert text_log.count("database unavailable") <= 2, text_log[-3000:]  # one per outage (and process)
    assert "database available again" in text_log
    assert "Traceback" not in text_log, text_log[-3000:]


SILENCE_SECONDS = 2
"""``SCIMHUB_DATABASE_ANSWER_SECONDS`` of the frozen cluster's server: short, so that the test is."""


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "two processes"])
def test_a_frozen_postgresql_is_a_503_within_the_bound_then_serves_again(
    cluster: pgcluster.PrivatePostgres, tmp_path: Path, workers: int
) -> None:
    """ADR 0090: PostgreSQL stopped where it stands (SIGSTOP) under load. Its connections stay open and
    nothing says it is gone: each request waits the bound at most (and ``connect_timeout`` for each
    new connection), then gets 503. ``/healthz`` answers meanwhile: at once in one process, where
    work waits off the loop; within the bound with two, where it runs on the loop. Once PostgreSQL
    runs again, the same server serves every kind of request."""
    database_url, token = _scimhub_database(cluster)
    log = tmp_path / "serve.log"
    settings = {"SCIMHUB_DATABASE_ANSWER_SECONDS": str(SILENCE_SECONDS), "SCIMHUB_WORKERS": str(workers)}
    with running_server(database_url, log, settings) as (process, url):
        # Every worker started: one starting while PostgreSQL is frozen cannot, and exits to be restarted.
        started = _wait_until(lambda: log.read_text().count("Application startup complete") >= workers, 30)
        assert started, log.read_text()[-3000:]
        with _loaded(url, token) as answers:
            try:
                cluster.freeze()
                frozen_from = len(answers)
                health: list[tuple[int, float]] = []  # /healthz's answers meanwhile: status, seconds
                answered = _wait_until(lambda: _healthy(url, health) and len(answers) >= frozen_from + 4, 60)
            finally:
                cluster.thaw()
            back_from = len(answers)
            recovered = _wait_until(lambda: _recovered(answers, back_from), 60)
    during = answers[frozen_from:back_from]
    assert answered, f"requests held by a frozen PostgreSQL: {len(during)} answered in 60 s"
    assert {status for status, _ in health} == {200}
    if workers == 1:  # its work waits off the loop, its connections are made off it: never held
        assert max(seconds for _, seconds in health) < 1, health
    assert recovered, f"no 2xx of every kind once PostgreSQL ran again: {answers[back_from:][-8:]}"
    assert all(a.status in (200, 201, 503) for a in answers), sorted({(a.kind, a.status) for a in answers})
    assert any(a.status == 503 for a in during)
    # The bound on a connection open before, then connecting's own for each new one, which a frozen
    # postmaster never accepts: a request whose credential could not be checked runs again (ADR 0086).
    held = SILENCE_SECONDS + 4 * engines.CONNECT_TIMEOUT_SECONDS + 5
    assert max(a.seconds for a in during) < held, [(a.kind, a.status, round(a.seconds, 1)) for a in during]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _transactions(engine: Engine, count: int) -> list[str]:
    outcomes = []
    for _ in range(count):
        try:
            with engine.connect() as connection, connection.begin():
                connection.execute(text("SELECT 1"))
            outcomes.append("ok")
        except ServiceUnavailable:
            outcomes.append("503")
    return outcomes


@pytest.mark.parametrize(("pre_ping", "refused"), [(False, 1), (True, 0)])
def test_a_restart_between_requests_costs_at_most_one_503(
    cluster: pgcluster.PrivatePostgres, pre_ping: bool, refused: int
) -> None:
    """Pooled connections cut by a restart cost one 503 (the pool is then renewed whole), none when pinged."""
    engine = engines.make_engine(cluster.url, pool_pre_ping=pre_ping)
    try:
        held = [engine.connect() for _ in range(4)]
        for connection in held:
            connection.execute(text("SELECT 1"))
            connection.close()
        cluster.stop("fast")
        cluster.start()
        assert _transactions(engine, 6) == ["503"] * refused + ["ok"] * (6 - refused)
        cluster.stop("fast")
        assert _transactions(engine, 2) == ["503", "503"]  # down: refused at once, pinged or not
    finally:
        engine.dispose()
