"""Request bodies: a body that does not arrive in time is a 408, whatever the client keeps sending."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from starlette.requests import Request
from starlette.types import Message

from scimhub.errors import RequestTimeout
from scimhub.settings import Settings
from scimhub.statuses import classify
from scimhub.web.bodies import read_body


def trickling_request() -> Request:
    """Return a request whose body comes one byte at a time, each a little later, for ever."""

    async def receive() -> Message:
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b" ", "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/scim/v2/Users",
        "headers": [(b"transfer-encoding", b"chunked")],
    }
    return Request(scope, receive)


def test_a_trickled_body_is_refused_at_its_deadline() -> None:
    """A body still arriving at body_timeout_seconds raises RequestTimeout, though bytes keep coming."""
    settings = replace(Settings(), body_timeout_seconds=1)
    with pytest.raises(RequestTimeout, match="did not arrive within 1 seconds"):
        asyncio.run(read_body(trickling_request(), settings))


def test_a_request_declaring_no_body_is_not_waited_for() -> None:
    """Neither Content-Length nor Transfer-Encoding: no body (RFC 9112 §6.3), and nothing is received."""

    async def receive() -> Message:
        raise AssertionError("a request without a body was waited for")

    request = Request({"type": "http", "method": "GET", "path": "/scim/v2/Users", "headers": []}, receive)
    assert asyncio.run(read_body(request, Settings())) == b""


def test_a_request_timeout_is_a_408_that_closes_the_connection() -> None:
    """RequestTimeout answers 408 with Connection: close: the rest of the body may still be on its way."""
    answer = classify(RequestTimeout("late"), logging.getLogger("test"))
    assert (answer.status, answer.kind, answer.headers) == (408, "requestTimeout", {"Connection": "close"})
