"""The ASGI application: SCIM, the JSON API, the events poll, health, metrics, access log, rate limits."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scimhub.datahub.status import status_json
from scimhub.datahub.worker import PushWorker
from scimhub.settings import Settings
from scimhub.web.access_log import AccessLog
from scimhub.web.api.gateway import api_routes
from scimhub.web.api.table import ROUTES as API_ROUTES
from scimhub.web.api.table import SCHEMAS as API_SCHEMAS
from scimhub.web.feed import LongPolls, feed_routes
from scimhub.web.metrics import Metrics, metrics_route
from scimhub.web.ratelimit import Limiter, RateLimits
from scimhub.web.scim import scim_endpoint
from scimhub.wiring import Services, build

SCIM_PREFIXES = ("/gms/openapi/scim/v2", "/scim/v2")
"""The seed's Tenant URL path (DataHub behind its frontend) and the plain alias."""
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


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
    routes = []  # SCIM first: Starlette tries routes in order, and SCIM is nearly all the traffic
    for prefix in SCIM_PREFIXES:
        endpoint = scim_endpoint(prefix, services)
        routes.append(Route(prefix + "/{path:path}", endpoint, methods=_METHODS))
        routes.append(Route(prefix, endpoint, methods=_METHODS))
    routes += [Route("/healthz", healthz), Route("/readyz", readyz), metrics_route(services)]
    routes += api_routes(services, API_ROUTES, API_SCHEMAS)
    routes += feed_routes(services, polls)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await polls.start()
        if worker is not None:
            services.store.commit_listeners.append(worker.wake)
            worker.start()
        yield
        if worker is not None:
            await run_in_threadpool(worker.stop)
        await polls.stop()
        services.close()

    middleware = [
        Middleware(AccessLog),
        Middleware(Metrics, scim_prefixes=SCIM_PREFIXES),  # outside the limits: it counts their 429s
        Middleware(RateLimits, limiter=Limiter.from_settings(services.settings), scim_prefixes=SCIM_PREFIXES),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def app_from_environ() -> Starlette:
    """Return the application configured from ``SCIMHUB_*`` (uvicorn's factory for workers)."""
    return create_app(build(Settings.from_environ(os.environ), upgrade=False))
