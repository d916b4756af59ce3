"""``bearer_token``: the token of one ``Authorization: Bearer`` header, and nothing for anything else."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from scimhub.web.auth import bearer_token


def request_with(*authorizations: str) -> Request:
    headers = [(b"authorization", value.encode("latin-1")) for value in authorizations]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("authorizations", "token"),
    [
        (("Bearer abc",), "abc"),
        (("bearer abc",), "abc"),  # the scheme in any case (RFC 9110 §11.1)
        (("  Bearer   abc  ",), "abc"),
        ((), None),
        (("Basic abc",), None),
        (("Bearer ",), None),
        (("Bearer abc", "Bearer abc"), None),  # a singleton field sent twice: no token (session 40)
        (("Bearer abc", "Bearer xyz"), None),
    ],
)
def test_only_one_bearer_header_names_a_token(authorizations: tuple[str, ...], token: str | None) -> None:
    """One Bearer header with a token gives the token; none, another scheme or two headers give None."""
    assert bearer_token(request_with(*authorizations)) == token
