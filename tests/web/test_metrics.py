"""Prometheus metrics (ADR 0024): route templates, counting, the pool, who may scrape, the workers' files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from scimhub.settings import Secret, Settings
from scimhub.web.app import SCIM_PREFIXES, create_app
from scimhub.web.metrics import (
    MULTIPROCESS_ENV,
    POOL_CHECKED_OUT,
    POOL_SIZE,
    Metrics,
    multiprocess_directory,
    route_label,
)
from scimhub.wiring import Services, build


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/scim/v2/Users", "scim:/Users"),
        ("/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", "scim:/Users/{id}"),
        ("/gms/openapi/scim/v2/users/abc", "scim:/Users/{id}"),
        ("/scim/v2/Groups/.search", "scim:/Groups/.search"),
        ("/scim/v2/.search", "scim:/.search"),
        ("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "scim:/Schemas/{id}"),
        ("/scim/v2/Users/abc/def/ghi", "scim:/Users/{id}/{more}"),
        ("/scim/v2/wp-admin.php", "scim:/{unknown}"),
        ("/scim/v2", "scim:/"),
    ],
)
def test_a_scim_request_is_labelled_by_its_endpoint_never_its_id(path: str, label: str) -> None:
    """Both SCIM bases share one label; ids and unknown names become placeholders (bounded cardinality)."""
    assert route_label({"path": path}, SCIM_PREFIXES) == label


def test_other_requests_are_labelled_by_their_route_template() -> None:
    """The JSON API by its table's template, the rest by Starlette's; nothing matched is ``unmatched``."""
    assert (
        route_label({"path": "/api/v1/tokens/x", "route": _Route("/api/v1/tokens/{id}")}, ())
        == "api:/tokens/{id}"
    )
    assert route_label({"path": "/api/v1/tokens/x"}, ()) == "api:{unrouted}"
    assert route_label({"path": "/healthz", "route": _Route("/healthz")}, ()) == "/healthz"
    assert route_label({"path": "/.env"}, ()) == "unmatched"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_middleware_counts_times_and_reads_refusals_from_the_state() -> None:
    """One count per request by (route, method, status), one latency observation, refusals by kind."""

    async def refused(request: Request) -> JSONResponse:
        request.scope.setdefault("state", {}).update(auth_failure="expired", rate_limited="token")
        return JSONResponse({}, 401)

    app = Metrics(Starlette(routes=[Route("/scim/v2/Users/{path:path}", refused)]), SCIM_PREFIXES)
    labels = {"route": "scim:/Users/{id}", "method": "GET"}

    def counts() -> list[float]:
        return [
            _sample("scimhub_http_requests_total", status="401", **labels),
            _sample("scimhub_http_request_duration_seconds_count", **labels),
            _sample("scimhub_auth_failures_total", reason="expired"),
            _sample("scimhub_rate_limited_total", limit="token"),
            _sample("scimhub_http_requests_total", route="scim:/Users/{id}", method="other", status="405"),
        ]

    before = counts()
    with TestClient(app) as client:  # type: ignore[arg-type]
        for i in range(3):
            client.get(f"/scim/v2/Users/user-{i}")
        client.request("BREW", "/scim/v2/Users/x")
    after = counts()
    assert [b - a for a, b in zip(before, after, strict=True)] == [3, 3, 3, 3, 1]  # BREW: method "other"


def test_the_pool_gauge_follows_checkouts_and_checkins(tmp_path: Path) -> None:
    """A connection counts while it is checked out, and no longer once it is back."""
    from scimhub.store.sql.engine import make_engine, watch_pool

    engine = make_engine(f"sqlite:///{tmp_path}/pool.db")
    watch_pool(engine, POOL_SIZE.set, POOL_CHECKED_OUT.inc, POOL_CHECKED_OUT.dec)
    start = _sample("scimhub_db_pool_checked_out")
    try:
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("SELECT 1")), second.execute(text("SELECT 1"))
            assert _sample("scimhub_db_pool_checked_out") == start + 2
        assert _sample("scimhub_db_pool_checked_out") == start
        assert _sample("scimhub_db_pool_size") == engine.pool.size()  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(database_url=f"sqlite:///{tmp_path}/scimhub.db"))
    yield built
    built.close()


def _scrape(services: Services, client: tuple[str, int], **headers: str) -> tuple[int, str]:
    with TestClient(create_app(services), client=client) as test_client:
        response = test_client.get("/metrics", headers=headers)
    return response.status_code, response.text


def test_without_a_metrics_token_only_a_direct_loopback_client_may_scrape(services: Services) -> None:
    """Safe by default: loopback yes; another host, or loopback through a proxy, 403."""
    status, body = _scrape(services, ("127.0.0.1", 5000))
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"scimhub_database_up", "scimhub_events_head_seq", "scimhub_datahub_push_lag_events"} <= names
    assert _scrape(services, ("::1", 5000))[0] == 200
    assert _scrape(services, ("198.51.100.4", 5000))[0] == 403
    assert _scrape(services, ("127.0.0.1", 5000), **{"X-Forwarded-For": "198.51.100.4"})[0] == 403


def test_with_a_metrics_token_every_scrape_needs_it(tmp_path: Path) -> None:
    """``SCIMHUB_METRICS_TOKEN`` set: 401 without it, from loopback too; 200 with it."""
    built = build(Settings(database_url=f"sqlite:///{tmp_path}/t.db", metrics_token=Secret("s3cret-metrics")))
    try:
        assert _scrape(built, ("127.0.0.1", 5000))[0] == 401
        assert _scrape(built, ("198.51.100.4", 5000), Authorization="Bearer wrong")[0] == 401
        assert _scrape(built, ("198.51.100.4", 5000), Authorization="Bearer s3cret-metrics")[0] == 200
    finally:
        built.close()


def test_a_database_down_is_reported_not_raised(tmp_path: Path) -> None:
    """A scrape while the database fails still answers 200, with ``scimhub_database_up 0``."""
    (tmp_path / "data").mkdir()
    services = build(Settings(database_url=f"sqlite:///{tmp_path}/data/scimhub.db"))
    app = create_app(services)
    services.store.close()  # its checkpoints' thread no longer writes the WAL beside the database
    services.engine.dispose()
    shutil.rmtree(tmp_path / "data")  # the database is gone: no connection can be opened
    with TestClient(app, client=("127.0.0.1", 1)) as client:  # its shutdown closes the services
        response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["scimhub_database_up"].samples[0].value == 0
    assert "scimhub_events_head_seq" not in families


def test_the_workers_directory_is_fresh_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PROMETHEUS_MULTIPROC_DIR, serve makes one and removes it; a given one is emptied first."""
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    with multiprocess_directory():
        made = Path(os.environ[MULTIPROCESS_ENV])
        assert made.is_dir() and not any(made.iterdir())
    assert MULTIPROCESS_ENV not in os.environ and not made.exists()
    (tmp_path / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    with multiprocess_directory():
        assert not list(tmp_path.glob("*.db"))
    assert os.environ[MULTIPROCESS_ENV] == str(tmp_path) and tmp_path.is_dir()
