"""The access log: one line per request, under its id, and a client that left is a 499 at INFO, not a 500."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from scimhub.logs import JsonFormatter
from scimhub.settings import Settings
from scimhub.web.access_log import AccessLog
from scimhub.web.bodies import read_body


def http_scope(method: str = "POST", path: str = "/scim/v2/Users") -> Scope:
    headers = [(b"transfer-encoding", b"chunked")]  # a body follows, in parts
    return {"type": "http", "method": method, "path": path, "headers": headers, "client": ("127.0.0.1", 1)}


async def read_then_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the body as the endpoints do, then answer 201."""
    await read_body(Request(scope, receive), Settings())
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def run(app: AccessLog, messages: list[Message]) -> list[Message]:
    sent: list[Message] = []
    incoming = iter(messages)

    async def receive() -> Message:
        return next(incoming)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(http_scope(), receive, send))
    return sent


def test_a_client_leaving_mid_body_is_one_info_line_with_499(caplog: pytest.LogCaptureFixture) -> None:
    """A disconnect while the body is read raises nothing further and logs once, at INFO, status 499."""
    caplog.set_level(logging.DEBUG, logger="scimhub")
    messages: list[Message] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = run(AccessLog(read_then_answer), messages)
    assert sent == []
    (record,) = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.request["status"] == 499 and "disconnected" in record.request["error"]  # type: ignore[attr-defined]


class JsonLines(logging.Handler):
    """Keep each record as the JSON line the service would write, formatted when it is logged."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


def test_the_response_carries_the_request_id_of_the_log_line() -> None:
    """X-Request-ID on the response is the id the access line is logged under."""
    handler = JsonLines()
    access = logging.getLogger("scimhub.access")
    access.addHandler(handler)
    level, access.level = access.level, logging.INFO
    try:
        sent = run(AccessLog(read_then_answer), [{"type": "http.request", "body": b"{}", "more_body": False}])
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    (line,) = handler.lines
    assert line["status"] == 201
    assert dict(sent[0]["headers"])[b"x-request-id"].decode() == line["request_id"]
