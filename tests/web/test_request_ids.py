"""Request ids: believed only from a trusted proxy and only when well-formed; on every log line."""

from __future__ import annotations

import logging

import orjson
import pytest

from scimhub.logs import REQUEST_ID, JsonFormatter
from scimhub.web.request_ids import TrustedProxies, request_id

PROXY_ID = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


def scope(client: str, *headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "client": (client, 50000), "headers": list(headers)}


def test_no_one_is_trusted_by_default() -> None:
    """Without SCIMHUB_TRUSTED_PROXIES, a client's X-Request-ID is replaced by a fresh id."""
    chosen = request_id(scope("127.0.0.1", (b"x-request-id", PROXY_ID.encode())), TrustedProxies(""))
    assert chosen != PROXY_ID and len(chosen) == 24 and int(chosen, 16) >= 0


def test_a_trusted_proxy_passes_its_well_formed_id() -> None:
    """A connection from a listed address or network has its X-Request-ID kept."""
    trusted = TrustedProxies("10.0.0.0/8, 192.168.1.7")
    for peer in ("10.20.30.40", "192.168.1.7"):
        assert request_id(scope(peer, (b"x-request-id", PROXY_ID.encode())), trusted) == PROXY_ID
    assert request_id(scope("192.168.1.8", (b"x-request-id", PROXY_ID.encode())), trusted) != PROXY_ID


@pytest.mark.parametrize(
    "bad", [b"", b"a" * 129, b"id with spaces", b'{"level":"error"}', b"line\nbreak", "caf\u00e9".encode()]
)
def test_a_malformed_id_is_replaced_even_from_a_trusted_proxy(bad: bytes) -> None:
    """An empty, over-long or unsafe id (spaces, quotes, newlines, non-ASCII) never reaches the log."""
    chosen = request_id(scope("10.0.0.1", (b"x-request-id", bad)), TrustedProxies("10.0.0.0/8"))
    assert chosen.encode() != bad and len(chosen) == 24


def test_fresh_ids_differ() -> None:
    """Generated ids do not repeat."""
    assert len({request_id(scope("127.0.0.1"), TrustedProxies("")) for _ in range(1000)}) == 1000


def test_an_entry_that_is_no_address_names_the_variable() -> None:
    """A trusted-proxy entry that is neither an address nor a CIDR network stops the start, naming itself."""
    with pytest.raises(ValueError, match=r"SCIMHUB_TRUSTED_PROXIES: '\*' is neither"):
        TrustedProxies("10.0.0.1,*")


def test_forwarded_headers_are_applied_only_when_a_proxy_is_trusted() -> None:
    """uvicorn's X-Forwarded-* middleware is in the stack only with trusted proxies, and trusts only them."""
    assert TrustedProxies("").middleware() == []
    (middleware,) = TrustedProxies("10.0.0.0/8").middleware()
    assert middleware.kwargs == {"trusted_hosts": ["10.0.0.0/8"]}


def test_every_log_line_of_a_request_carries_its_id() -> None:
    """The JSON formatter writes the request id of the context it logs in, and none outside a request."""
    record = logging.LogRecord("scimhub.scim", logging.INFO, __file__, 1, "client error %s", (400,), None)
    assert "request_id" not in orjson.loads(JsonFormatter().format(record))
    token = REQUEST_ID.set("abc123")
    try:
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "abc123" and line["message"] == "client error 400"
