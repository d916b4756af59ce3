"""Request bodies, read with a size limit and a deadline before anything parses them."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from scimhub.errors import PayloadTooLarge, RequestTimeout
from scimhub.settings import Settings


async def read_body(request: Request, settings: Settings) -> bytes:
    """Return the body, refusing more than ``max_body_bytes`` without reading them all.

    ``body_timeout_seconds`` bounds the whole read, so that a client trickling
    its body (a slow POST) holds the request for that long at most (ADR 0022).
    A client that leaves mid-body raises Starlette's ``ClientDisconnect``, which
    the access log records as 499.

    :raises PayloadTooLarge: When the declared or the streamed size exceeds the limit.
    :raises RequestTimeout: When the body has not arrived whole in time.
    """
    limit, timeout = settings.max_body_bytes, settings.body_timeout_seconds
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    try:
        async with asyncio.timeout(timeout):
            return await _read(request, limit)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout} seconds") from None


async def _read(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
