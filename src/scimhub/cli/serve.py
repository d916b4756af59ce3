"""``scimhub serve``: migrate, then serve with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
import uvicorn

from scimhub.cli.options import DatabaseUrl, ensure_admin, settings
from scimhub.directory.actors import SYSTEM
from scimhub.logs import configure_logging
from scimhub.web.app import SCIM_PREFIXES, create_app
from scimhub.web.metrics import multiprocess_directory
from scimhub.wiring import build

UVICORN_SETTINGS: dict[str, Any] = dict(
    loop="uvloop",
    http="httptools",
    access_log=False,  # web/access_log.py writes one JSON line per request instead
    log_config=None,
    timeout_graceful_shutdown=20,
    proxy_headers=False,
)
"""How uvicorn serves scimhub (bench/serving.py serves the floor and the peer the same way)."""


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on [default: 8080].")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes [default: 1].")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve SCIM at /gms/openapi/scim/v2 and /scim/v2, with /healthz and /readyz."""
    config = settings(database_url, host=host, port=port, workers=workers)
    configure_logging(config.log_level)
    services = build(config)  # applies migrations before the first request
    ensure_admin(services)
    has_tokens = bool(services.tokens.list(SYSTEM))
    base = config.public_base_url or f"http://{config.host}:{config.port}"
    if not has_tokens:
        typer.echo(
            f"No access token exists yet.\n"
            f"  Tenant URL for Entra:  {base.rstrip('/')}{SCIM_PREFIXES[0]}\n"
            f"  Secret Token:          scimhub token create --name entra   (prints it on its last line)"
        )
    common = dict(host=config.host, port=config.port, **UVICORN_SETTINGS)
    if config.workers <= 1:
        uvicorn.run(create_app(services), **common)  # type: ignore[arg-type]
        return
    services.close()
    # Worker processes rebuild the services from the environment: hand them the resolved URL.
    os.environ["SCIMHUB_DATABASE_URL"] = config.database_url
    with multiprocess_directory():  # the workers' metrics, merged at /metrics (ADR 0024)
        uvicorn.run("scimhub.web.app:app_from_environ", factory=True, workers=config.workers, **common)  # type: ignore[arg-type]
