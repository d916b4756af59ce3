"""How bench/'s own servers (the floor, the peer) are served: as ``scimhub serve`` serves.

With ``scimhub serve``'s own uvicorn settings (uvloop, httptools, no access log, no
proxy headers); one process, or ``--workers`` processes that import the application
by name from bench/.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn

from scimhub.cli.serve import UVICORN_SETTINGS


def serve(description: str, app: Any, import_string: str, factory: bool = False) -> None:
    """Serve ``app`` on 127.0.0.1 (``--port``, ``--workers`` from the command line).

    ``app`` is the application (or, with ``factory``, the function that makes it);
    ``import_string`` (``"floor:app"``) is how worker processes find it.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    common: dict[str, Any] = dict(host=args.host, port=args.port, **UVICORN_SETTINGS)
    if args.workers <= 1:
        uvicorn.run(app() if factory else app, **common)
        return
    app_dir = str(Path(__file__).resolve().parent)
    uvicorn.run(import_string, factory=factory, workers=args.workers, app_dir=app_dir, **common)
