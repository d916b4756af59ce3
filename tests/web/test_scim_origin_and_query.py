"""The SCIM endpoint reads a request's origin and query as Starlette does, only cheaper."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Scope

from scimhub.web.scim import _base_url, _query

PREFIX = "/scim/v2"


def _scope(headers: list[tuple[bytes, bytes]], query: bytes = b"", **more: object) -> Scope:
    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/scim/v2/Users",
        "query_string": query,
        "headers": headers,
    }
    return {**scope, "server": ("10.0.0.1", 8000), **more}


@pytest.mark.parametrize(
    "scope",
    [
        _scope([(b"host", b"scim.example.com")]),
        _scope([(b"host", b"scim.example.com:8443")], scheme="https"),
        _scope([(b"host", b"[::1]:8000")]),
        _scope([]),  # HTTP/1.0 without Host: the server's address
        _scope([], server=("10.0.0.1", 80)),  # the default port is left out
        _scope([], scheme="https", server=("10.0.0.1", 443)),
        _scope([], server=None),
        _scope([], server=["testserver", 80]),  # a list, as Starlette's TestClient gives it
        _scope([(b"host", b"evil.example/x?y#z")]),  # what Starlette's URL makes of a hostile Host
        _scope([(b"host", b"first.example"), (b"host", b"second.example")]),
        _scope([(b"host", b"caf\xe9.example")]),
    ],
)
def test_the_origin_is_starlettes(scope: Scope) -> None:
    url = Request(scope).url
    assert _base_url(scope, PREFIX, None) == f"{url.scheme}://{url.netloc}{PREFIX}"
    assert _base_url(scope, PREFIX, None) == _base_url(scope, PREFIX, None)  # again, from the cache


def test_a_public_base_url_wins() -> None:
    assert (
        _base_url(_scope([(b"host", b"inside")]), PREFIX, "https://scim.example/")
        == "https://scim.example/scim/v2"
    )


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"filter=userName%20eq%20%22ann%40example.com%22",
        b"filter=userName+eq+%22a+b%22&count=5",
        b"count=1&count=2",  # the last one
        b"attributes=&excludedAttributes",  # blank values kept
        b"filter=%ZZbad%",  # an invalid escape stays as it is
        b"startIndex=1;count=2",
        b"x=caf\xe9",
    ],
)
def test_the_query_is_starlettes(query: bytes) -> None:
    scope = _scope([], query)
    assert _query(scope) == dict(Request(scope).query_params)
