"""Bearer credentials from the ``Authorization`` header (RFC 6750 §2.1)."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None.

    The scheme is case-insensitive (RFC 9110 §11.1); anything else (no header,
    another scheme, an empty token) is no token at all.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
