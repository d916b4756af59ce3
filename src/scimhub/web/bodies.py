"""Request bodies, read with a size limit and a deadline before anything parses them."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from scimhub.errors import PayloadTooLarge, RequestTimeout
from scimhub.settings import Settings


async def read_body(request: Request, settings: Settings, limit: int | None = None, name: str = "") -> bytes:
    """Return the body, refusing more than ``limit`` bytes (``max_body_bytes``) without reading them all.

    ``name`` is the limit's name in the 413's detail, such as ``maxPayloadSize`` for ``/Bulk``.

    ``body_timeout_seconds`` bounds the whole read, so that a client trickling
    its body (a slow POST) holds the request for that long at most (ADR 0022).
    A client that leaves mid-body raises Starlette's ``ClientDisconnect``, which
    the access log records as 499.

    :raises PayloadTooLarge: When the declared or the streamed size exceeds the limit.
    :raises RequestTimeout: When the body has not arrived whole in time.
    """
    limit = settings.max_body_bytes if limit is None else limit
    timeout = settings.body_timeout_seconds
    too_large = f"the request body is larger than {f'{name} ({limit} bytes)' if name else f'{limit} bytes'}"
    headers = request.headers
    declared = headers.get("content-length")
    if declared is None and "transfer-encoding" not in headers:
        return b""  # a request with neither has no body (RFC 9112 §6.3): nothing to wait for
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    try:
        async with asyncio.timeout(timeout):
            return await _read(request, limit, too_large)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout} seconds") from None


async def _read(request: Request, limit: int, too_large: str) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)
