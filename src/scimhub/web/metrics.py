"""Prometheus metrics at ``/metrics``: requests, latency, the database pool, the outbox, refusals (ADR 0024).

Requests are counted by route *template* (``scim:/Users/{id}``, never an id),
method and status, so the number of series stays bounded whatever clients send.
What lives in the database (the outbox's head, the DataHub push's checkpoint and
lag) is read when Prometheus scrapes, once per scrape. What each process counts
in memory (requests, latency, pool, refusals) is shared between the processes of
``scimhub serve --workers N`` through prometheus_client's multiprocess mode:
``serve`` gives the workers a fresh ``PROMETHEUS_MULTIPROC_DIR`` and any worker
answers a scrape with the sum of all.

``/metrics`` is never rate limited. Without ``SCIMHUB_METRICS_TOKEN`` it answers
only a client on the loopback interface that came through no proxy; with it,
only a request bearing that token.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimhub.errors import Forbidden, Unauthorized
from scimhub.services import Services
from scimhub.web.api.errors import error_reply
from scimhub.web.api.gateway import render
from scimhub.web.api.routing import PREFIX as API_PREFIX
from scimhub.web.auth import bearer_token

log = logging.getLogger("scimhub.metrics")
disable_created_metrics()  # a ``_created`` series per counter doubles the scrape and says little here

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PUSH_STATES = ("off", "starting", "ok", "behind", "retrying", "halted")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a filtered GET takes about a millisecond, Entra gives up at 60 s, a long poll waits up to 60 s."""

REQUESTS = Counter(
    "scimhub_http_requests", "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "scimhub_http_request_duration_seconds", "Time from a request's arrival to the end of its response.",
    ["route", "method"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
AUTH_FAILURES = Counter(
    "scimhub_auth_failures", "Requests refused for their bearer token, by reason.", ["reason"]
)
RATE_LIMITED = Counter(
    "scimhub_rate_limited", "Requests refused with 429 by a rate limit (ADR 0023), by limit.", ["limit"]
)
POOL_CHECKED_OUT = Gauge(
    "scimhub_db_pool_checked_out", "Database connections in use, summed over live processes.",
    multiprocess_mode="livesum",
)  # fmt: skip
POOL_SIZE = Gauge(
    "scimhub_db_pool_size", "Database connections each pool keeps, summed over live processes.",
    multiprocess_mode="livesum",
)  # fmt: skip

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SCIM_ENDPOINTS = {
    name.lower(): name
    for name in ("Users", "Groups", "Me", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk")
} | {".search": ".search"}


class Metrics:
    """ASGI middleware: count and time every HTTP request, and the refusals the request's state reports."""

    def __init__(self, app: ASGIApp, scim_prefixes: tuple[str, ...]) -> None:
        self.app, self.scim_prefixes = app, scim_prefixes
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        """Labelled series by (route, method, status): ``labels()`` takes a lock each time."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then count it under its route template and time it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_label(scope, self.scim_prefixes)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        state = scope.get("state") or {}
        if "auth_failure" in state:
            AUTH_FAILURES.labels(state["auth_failure"]).inc()
        if "rate_limited" in state:
            RATE_LIMITED.labels(state["rate_limited"]).inc()


def route_label(scope: Scope, scim_prefixes: tuple[str, ...]) -> str:
    """Return the template of the route that served the request: bounded, whatever the path held.

    SCIM (under either base) is ``scim:`` and its endpoint with ``{id}`` for the
    resource (RFC 7644 §3.2); the JSON API is ``api:`` and its route table's
    template (``api:{unrouted}`` when refused before routing); anything else
    Starlette's route template, or ``unmatched``.
    """
    path: str = scope["path"]
    for prefix in scim_prefixes:
        if path == prefix or path.startswith(prefix + "/"):
            return "scim:" + _scim_template(path[len(prefix) :])
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str):  # no route matched, or none was looked for (a 429)
        return "api:{unrouted}" if path.startswith(API_PREFIX + "/") else "unmatched"
    if template.startswith(API_PREFIX):
        return "api:" + template[len(API_PREFIX) :]
    return template


def _scim_template(rest: str) -> str:
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return "/"
    head = "/" + _SCIM_ENDPOINTS.get(parts[0].lower(), "{unknown}")
    if len(parts) == 1:
        return head
    return head + ("/.search" if parts[1] == ".search" else "/{id}") + ("/{more}" if len(parts) > 2 else "")


class _Database:
    """What the database tells at scrape time: whether it answers, the outbox and the DataHub push."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        """Read the push's status once (ADR 0013) and yield it as gauges."""
        try:
            status = self._services.datahub_status()
        except Exception as error:  # noqa: BLE001 - a scrape reports the database down, it does not fail
            log.warning("the database did not answer a metrics scrape: %s", type(error).__name__)
            yield _gauge("scimhub_database_up", "Whether the database answered this scrape.", 0)
            return
        yield _gauge("scimhub_database_up", "Whether the database answered this scrape.", 1)
        yield _gauge("scimhub_events_head_seq", "Sequence number of the newest change event.", status.head)
        yield _gauge(
            "scimhub_datahub_push_checkpoint_seq", "Last event the DataHub push wrote.", status.checkpoint
        )
        yield _gauge("scimhub_datahub_push_lag_events", "Events waiting for the DataHub push.", status.lag)
        yield _gauge(
            "scimhub_datahub_push_failures", "Failed pushes in a row since the last success.", status.failures
        )
        if status.last_success is not None:
            yield _gauge(
                "scimhub_datahub_push_last_success_timestamp_seconds",
                "When the DataHub push last succeeded (Unix time).",
                status.last_success / 1_000_000,
            )
        states = GaugeMetricFamily(
            "scimhub_datahub_push_state", "The DataHub push's state: 1 for the current one.", labels=["state"]
        )
        for state in PUSH_STATES:
            states.add_metric([state], 1 if state == status.state else 0)
        yield states


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _ThisProcess:
    """Every metric this process registered with prometheus_client (one process: nothing to merge)."""

    def collect(self) -> Iterable[Metric]:
        """Yield the default registry's metrics, the process's own CPU and memory included."""
        return REGISTRY.collect()


class _AllProcesses:
    """The metrics of every worker process, merged from ``PROMETHEUS_MULTIPROC_DIR``."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._merged = MultiProcessCollector(None, directory)

    def collect(self) -> Iterable[Metric]:
        """Forget the gauges of workers that died without saying so, then merge the rest."""
        for pid in _dead_pids(Path(self._directory)):
            mark_process_dead(pid, self._directory)
        return self._merged.collect()


def _dead_pids(directory: Path) -> set[int]:
    names = (p.name for p in directory.glob("gauge_live*.db"))
    pids = {int(m.group(1)) for name in names if (m := re.search(r"_(\d+)\.db$", name))}
    return {pid for pid in pids if not _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scrape_registry(services: Services) -> CollectorRegistry:
    """Return the registry a scrape reads: this process's metrics or every worker's, and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROCESS_ENV)
    registry.register(_AllProcesses(directory) if directory else _ThisProcess())
    registry.register(_Database(services))
    return registry


def metrics_route(services: Services) -> Route:
    """Return the ``/metrics`` route."""
    registry = scrape_registry(services)
    token = services.settings.metrics_token

    async def metrics(request: Request) -> Response:
        refusal = _refusal(request, token.reveal() if token is not None else None)
        if refusal is not None:
            return render(error_reply(refusal))
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})

    return Route("/metrics", metrics, methods=["GET"])


def _refusal(request: Request, token: str | None) -> Exception | None:
    """Return why ``request`` may not read the metrics, or None."""
    if token is not None:
        presented = bearer_token(request)
        if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
            return Unauthorized("/metrics needs Authorization: Bearer <SCIMHUB_METRICS_TOKEN>", "metrics")
        return None
    headers = request.headers
    if _loopback(request.client.host if request.client else None) and not (
        "x-forwarded-for" in headers or "forwarded" in headers
    ):
        return None
    return Forbidden("/metrics answers loopback clients only; set SCIMHUB_METRICS_TOKEN for other clients")


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[None]:
    """Give worker processes started inside this block one directory to share their metrics in.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is used and emptied first (a
    previous run's counters would add to this one's); otherwise a temporary one is
    made and removed afterwards. Set before the workers start, so that their
    prometheus_client keeps its values there.
    """
    given = os.environ.get(MULTIPROCESS_ENV)
    directory = given or tempfile.mkdtemp(prefix="scimhub-metrics-")
    for stale in Path(directory).glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        if given is None:
            del os.environ[MULTIPROCESS_ENV]
            shutil.rmtree(directory, ignore_errors=True)
