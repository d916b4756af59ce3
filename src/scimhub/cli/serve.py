"""``scimhub serve``: migrate, then serve with uvicorn (uvloop + httptools), limits on (ADR 0022)."""

from __future__ import annotations

import logging
import os
import resource
from typing import Annotated, Any

import typer
import uvicorn

from scimhub.cli.options import DatabaseUrl, build_services, ensure_admin, settings
from scimhub.cli.summary import startup_summary
from scimhub.cli.workers import serve_workers
from scimhub.collector import tune_for_serving
from scimhub.logs import configure_logging
from scimhub.settings import Settings
from scimhub.web.app import SCIM_PREFIXES, create_app
from scimhub.web.connections import GuardedHttpToolsProtocol
from scimhub.web.metrics import multiprocess_directory
from scimhub.wiring import now_micros

log = logging.getLogger("scimhub.serve")

NO_STORE_HEADERS = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
"""On every response: they carry tokens, users and groups, which no cache may keep (RFC 9111 §5.2.2.5)."""

UVICORN_SETTINGS: dict[str, Any] = dict(
    loop="uvloop",
    http=GuardedHttpToolsProtocol,  # httptools with request deadlines and a connection cap
    access_log=False,  # web/access_log.py writes one JSON line per request instead
    log_config=None,
    timeout_graceful_shutdown=20,
    proxy_headers=False,  # the application applies X-Forwarded-* from SCIMHUB_TRUSTED_PROXIES only
    server_header=False,  # no "server: uvicorn" banner
    headers=NO_STORE_HEADERS,
    limit_concurrency=None,  # it would answer 503 to /healthz too once that many sockets are open
    backlog=2048,
)
"""How uvicorn serves scimhub (bench/serving.py serves the floor and the peer the same way)."""


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open descriptors to the hard one (worker processes inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, wanted, error)
    return soft


def uvicorn_settings(config: Settings) -> dict[str, Any]:
    """Return uvicorn's settings for ``config``, with this process's connection limits configured."""
    raise_descriptor_limit()
    GuardedHttpToolsProtocol.configure(config, SCIM_PREFIXES)
    return dict(
        host=config.host, port=config.port, timeout_keep_alive=config.keep_alive_seconds, **UVICORN_SETTINGS
    )


def serve(
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface to listen on [env: SCIMHUB_HOST; default: 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on [env: SCIMHUB_PORT; default: 8080].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes [env: SCIMHUB_WORKERS; default: 1].")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve SCIM at /gms/openapi/scim/v2 and /scim/v2, with /healthz and /readyz."""
    config = settings(database_url, host=host, port=port, workers=workers)
    services = build_services(config)  # applies migrations before the first request
    configure_logging(config.log_level)  # after the one-line errors of a database that cannot be opened
    typer.echo("\n".join(startup_summary(services, now_micros())))  # for a person, before the JSON logs
    ensure_admin(services, generate=False)  # a service log is no place for a password
    common = uvicorn_settings(config)
    if config.workers <= 1:
        app = create_app(services)
        tune_for_serving()
        uvicorn.run(app, **common)
        return
    services.close()
    # Worker processes rebuild the services from the environment: hand them the resolved URL.
    os.environ["SCIMHUB_DATABASE_URL"] = config.database_url
    os.environ["SCIMHUB_WORKERS"] = str(config.workers)  # a worker knows it is one of several
    with multiprocess_directory():  # the workers' metrics, merged at /metrics (ADR 0024)
        serve_workers(config.workers, common)  # each on a socket of its own (ADR 0060)
