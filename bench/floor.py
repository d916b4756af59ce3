"""The baseline: a bare Starlette JSON endpoint, served the way ``scimhub serve`` serves.

Same server stack as scimhub (uvicorn, uvloop, httptools, no access log, one
process) and no work behind it: no authentication, no thread-pool hop, no
database. Every scimhub figure in bench/run.py is printed as a ratio against
this floor, hit by the same client with the same requests in the same run.

    python bench/floor.py --port 8099
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"status":"ok"}'
_STATUS = {"GET": 200, "POST": 201, "PATCH": 204}


async def endpoint(request: Request) -> Response:
    """Read the body (the client sends scimhub's requests) and answer a fixed JSON object."""
    await request.body()
    status = _STATUS.get(request.method, 200)
    return Response(None if status == 204 else _BODY, status, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PATCH"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
