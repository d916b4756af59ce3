"""Cursors for RFC 9865 paging: opaque, signed, bound to their query, and expiring (ADR 0035).

A cursor names a position, not a page number: the sort key of the row a page
follows (or, going back, precedes), which the store seeks to (``store.contract.Seek``).
It is ``<payload>.<signature>``, both base64url without padding, so it holds
only RFC 3986 unreserved characters as RFC 9865 §2 asks:

- payload: the JSON array ``[1, backward, expires, key]`` (format version,
  direction, expiry in Unix seconds, the sort key's values);
- signature: HMAC-SHA256 over the query's scope (resource type, filter, sortBy,
  sortOrder) and the payload, keyed by a key derived from the token signing key,
  which every process shares. A cursor edited, forged, or sent with another
  query fails the check (``invalidCursor``); an authentic one past its expiry is
  ``expiredCursor``.

Sort keys are text, numbers, booleans and NULLs; a decimal (a number read from
a JSON document on PostgreSQL) travels as ``{"d": "<digits>"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from scimhub.errors import ExpiredCursor, InvalidCursor, InvalidValue

VERSION = 1
KEY_CONTEXT = b"scimhub/cursor/v1"
"""What the cursor key is derived for, so that it signs nothing a token key would accept."""
_INVALID = (
    "the cursor is not one this server issued for this query: send the nextCursor or previousCursor of "
    "the previous page, with the same filter, sortBy and sortOrder, or an empty cursor for the first page"
)


def cursor_key(token_signing_key: bytes) -> bytes:
    """Return the cursor signing key derived from the token signing key (same on every process)."""
    return hmac.new(token_signing_key, KEY_CONTEXT, hashlib.sha256).digest()


@dataclass(frozen=True)
class Position:
    """Where a cursor points: the sort key a page follows, or precedes when ``backward``."""

    key: tuple[Any, ...] | None
    """None: the first page (forward) or the last one (backward)."""
    backward: bool = False


class Cursors:
    """Issue and read the cursors of one server (every process with the same key reads them)."""

    def __init__(self, key: bytes, timeout_seconds: int, clock: Callable[[], float] = time.time) -> None:
        if timeout_seconds < 1:
            raise ValueError(f"a cursor must live at least one second, not {timeout_seconds}")
        self._key, self.timeout_seconds, self._clock = key, timeout_seconds, clock

    def issue(self, scope: str, position: Position) -> str:
        """Return the cursor for ``position`` in the query ``scope``, valid for ``timeout_seconds``.

        :raises InvalidValue: When the sort key holds a value a cursor cannot carry.
        """
        expires = int(self._clock()) + self.timeout_seconds
        key = None if position.key is None else [_encode_value(v) for v in position.key]
        payload = _b64(orjson.dumps([VERSION, position.backward, expires, key]))
        return f"{payload}.{_b64(self._sign(scope, payload))}"

    def read(self, scope: str, cursor: str) -> Position:
        """Return the position ``cursor`` names in the query ``scope``.

        :raises InvalidCursor: When the cursor is malformed, not signed by this server, or for another query.
        :raises ExpiredCursor: When it is authentic but older than the timeout.
        """
        payload, dot, signature = cursor.partition(".")
        # Compared as text, so that no other spelling of the same bytes passes (base64's spare bits).
        expected = _b64(self._sign(scope, payload)).encode()
        if not dot or not hmac.compare_digest(signature.encode(), expected):
            raise InvalidCursor(_INVALID)
        try:
            version, backward, expires, key = orjson.loads(_unb64(payload))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise InvalidCursor(_INVALID) from None  # signed by us, so only an older format gets here
        if version != VERSION or not isinstance(backward, bool) or not isinstance(expires, int):
            raise InvalidCursor(_INVALID)
        if self._clock() > expires:
            raise ExpiredCursor(
                f"the cursor expired: a cursor is valid for {self.timeout_seconds} seconds (cursorTimeout); "
                "start again with an empty cursor"
            )
        return Position(None if key is None else tuple(_decode_value(v) for v in key), backward)

    def _sign(self, scope: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{scope}\n{payload}".encode(), hashlib.sha256).digest()


def query_scope(resources: str, filter: str | None, sort_by: str | None, descending: bool) -> str:
    """Return what binds a cursor to its query: the resource type, filter, sortBy and sortOrder as sent."""
    return orjson.dumps([resources, filter, sort_by, descending]).decode()


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return {"d": str(value)}
    raise InvalidValue(
        f"cursor paging cannot order by a {type(value).__name__} value; sort by another attribute"
    )


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        return Decimal(value["d"])
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""
