"""The baseline: a bare Starlette JSON endpoint, served the way ``scimhub serve`` serves.

Same server stack as scimhub (uvicorn, uvloop, httptools, no access log, one
process) and no work behind it: no authentication, no thread-pool hop, no
database. Every scimhub figure in bench/run.py and bench/entra_cycle.py is
printed as a ratio against this floor, hit by the same client with the same
requests in the same run.

It answers with the statuses scimhub answers with (201 to a POST, 204 to a
group PATCH, 200 and a body to a user PATCH, ADR 0009), and a POST's body
carries an ``id``, different each time, so that the Entra cycle's scripts can
PATCH what they created.

    python bench/floor.py --port 8099 [--workers N]
"""

from __future__ import annotations

import itertools

from serving import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"status":"ok"}'
_ids = itertools.count(1)


async def endpoint(request: Request) -> Response:
    """Read the body (the client sends scimhub's requests) and answer a fixed JSON object."""
    await request.body()
    if request.method == "POST":
        return Response(b'{"id":"%d"}' % next(_ids), 201, media_type="application/json")
    if request.method == "PATCH" and "/Groups/" in request.scope["path"]:
        return Response(None, 204)
    return Response(_BODY, 200, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PATCH"])])


def main() -> None:
    serve(__doc__.splitlines()[0], app, "floor:app")


if __name__ == "__main__":
    main()
