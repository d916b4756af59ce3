"""Request bodies, read with a size limit before anything parses them."""

from __future__ import annotations

from starlette.requests import Request

from scimhub.errors import PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """Return the body, refusing more than ``limit`` bytes without reading them all.

    :raises PayloadTooLarge: When the declared or the streamed size exceeds ``limit``.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
