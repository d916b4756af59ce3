"""The ASGI application.

SCIM under both base paths, the JSON API, the events poll, health, metrics, the console (at ``/``
and ``/console``), access log, request ids, rate limits.

Every method under the SCIM base reaches the SCIM routing, which answers one it
does not serve (TRACE, PROPFIND…) with a SCIM Error, 405 and ``Allow``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from scimhub.console.app import console_routes, make_console
from scimhub.console.http import ConsoleEdge
from scimhub.console.traffic import RecordScimTraffic, ScimTraffic
from scimhub.datahub.status import status_json
from scimhub.datahub.worker import PushWorker
from scimhub.services import Services
from scimhub.web.access_log import AccessLog
from scimhub.web.api.gateway import api_routes
from scimhub.web.api.table import ROUTES as API_ROUTES
from scimhub.web.api.table import SCHEMAS as API_SCHEMAS
from scimhub.web.connections import when_stopping
from scimhub.web.feed import LongPolls, feed_routes
from scimhub.web.metrics import Metrics, metrics_route
from scimhub.web.ratelimit import Limiter, RateLimits
from scimhub.web.request_ids import TrustedProxies
from scimhub.web.scim import ScimBases

SCIM_PREFIXES = ("/gms/openapi/scim/v2", "/scim/v2")
"""The seed's Tenant URL path (DataHub behind its frontend) and the plain alias."""


def create_app(services: Services) -> Starlette:
    """Return the application serving ``services``."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            await run_in_threadpool(services.store.ping)
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            return JSONResponse({"status": "unavailable", "database": type(error).__name__}, 503)
        body: dict[str, object] = {"status": "ok", "database": "ok"}
        if services.datahub is not None:
            # Readiness is about our database: DataHub being down is reported here, never a 503 (ADR 0013).
            body["datahub"] = status_json(await run_in_threadpool(services.datahub.status))
        return JSONResponse(body)

    polls = LongPolls(services)
    worker = PushWorker(services.datahub) if services.datahub is not None else None
    # SCIM, nearly all the traffic, is served by the innermost middleware (``ScimBases``), not routed.
    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz), metrics_route(services)]
    routes += api_routes(services, API_ROUTES, API_SCHEMAS)
    routes += feed_routes(services, polls)
    traffic = ScimTraffic()  # what the console's Entra checklist shows of this process's SCIM traffic
    console = make_console(services, traffic, SCIM_PREFIXES[0])
    routes += console_routes(console)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await polls.start()
        console.counts.get()  # the first reading of the console's counts starts now, in the background
        forget = when_stopping(polls.drain)  # long polls answer at once when shutdown begins
        if worker is not None:
            stop_waking = services.commits.on_commit(worker.wake)
            worker.start()
        yield
        forget()
        if worker is not None:
            stop_waking()  # before the worker stops: a late commit must not wake a stopped worker
            await run_in_threadpool(worker.stop)
        await polls.stop()
        services.close()

    trusted = TrustedProxies(services.settings.trusted_proxies)
    middleware = [
        Middleware(AccessLog, trusted=trusted),
        *trusted.middleware(),  # X-Forwarded-*: inside the access log, which needs the real peer
        Middleware(Metrics, scim_prefixes=SCIM_PREFIXES),  # outside the limits: it counts their 429s
        # Inside the proxy headers: a limit per address is per client, not per proxy.
        Middleware(RateLimits, limiter=Limiter.from_settings(services.settings), scim_prefixes=SCIM_PREFIXES),
        Middleware(RecordScimTraffic, traffic=traffic, scim_prefixes=SCIM_PREFIXES),
        Middleware(ConsoleEdge, console=console),  # the console's only: no NUL in, its headers out (ADR 0030)
        Middleware(ScimBases, prefixes=SCIM_PREFIXES, services=services),  # ahead of the router (ADR 0079)
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.console = console  # for the tests, which read its counts without waiting for the background
    return app
