"""The peer: python-scim's scim2-server, served the way ``scimhub serve`` serves.

Issue 5 measures scimhub against the best Python SCIM server we know. scim2-server
is a library; since 0.8 it ships a dependency-free ASGI application
(``scim2_server.applications.asgi.ASGIApplication``) over an asynchronous
storage, next to the WSGI one its ``scim2-server`` command serves with wsgiref.
Here its ASGI application runs over ``AsyncInMemoryStorage`` (the in-memory
storage it ships, wrapped for the event loop) with the default schemas,
resource types and service provider configuration of ``scim2-server``
(``load_default_provider``), on the same server stack as scimhub and the
floor: uvicorn, uvloop, httptools, no access log, one process by default. So no
WSGI bridge: the peer is served natively, as its own ASGI adapter serves it.

It accepts every request (no bearer-token check: the command's
``BearerTokenApplication`` is WSGI-only) and serves SCIM at ``/v2``. Its storage
lives in memory, per process: with ``--workers`` above 1 each worker has its
own resources, so a resource created through one worker is unknown to the
others. Installed only for the benchmarks::

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/peer.py --port 8098 [--workers N]
"""

from __future__ import annotations

from typing import Any

from serving import serve

PREFIX = "/v2"
"""Where the peer serves SCIM."""
READY_PATH = f"{PREFIX}/ServiceProviderConfig"
"""A path that answers 200 once the peer serves (RFC 7643 §5: it needs no authentication)."""


def create_app() -> Any:
    """Return scim2-server's ASGI application over a new, empty in-memory storage."""
    # Imported here: bench/entra_cycle.py reads PREFIX without scim2-server installed.
    from scim2_server.applications.asgi import ASGIApplication
    from scim2_server.memory import AsyncInMemoryStorage
    from scim2_server.utils import load_default_provider

    return ASGIApplication(AsyncInMemoryStorage(), load_default_provider())


def main() -> None:
    """Serve the peer on 127.0.0.1 with scimhub's uvicorn settings."""
    serve(__doc__.splitlines()[0], create_app, "peer:create_app", factory=True)


if __name__ == "__main__":
    main()
