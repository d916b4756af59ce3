"""SCIM is served under both bases ahead of Starlette's router (``web.scim.ScimBases``, ADR 0079).

Over HTTP on the live server, on both engines: the path after a base is the SCIM routing's, every
method reaches it, a path that only starts with a base's text is no SCIM path, and what wraps the
SCIM endpoint (the access log's request id, the metrics' route label) still does.
"""

from __future__ import annotations

import pytest

from scimhub.web.app import SCIM_PREFIXES
from tests.integration.conftest import LiveServer

SCIM_JSON = "application/scim+json"


@pytest.mark.parametrize("base", SCIM_PREFIXES)
@pytest.mark.parametrize("rest", ["/ServiceProviderConfig", "/ServiceProviderConfig/"])
def test_a_resource_under_either_base(live: LiveServer, base: str, rest: str) -> None:
    with live.client(base=base) as client:
        response = client.get(rest)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert response.headers["x-request-id"]  # the access log still wraps it
    assert "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" in response.json()["schemas"]


@pytest.mark.parametrize("base", SCIM_PREFIXES)
@pytest.mark.parametrize("tail", ["", "/"])
def test_the_base_itself_is_the_scim_routings(live: LiveServer, base: str, tail: str) -> None:
    with live.client(base="") as client:
        response = client.get(base + tail)
    assert response.status_code == 404, response.text  # no SCIM endpoint at "/"
    assert response.headers["content-type"].startswith(SCIM_JSON)  # a SCIM answer, not Starlette's
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "OPTIONS"])
def test_every_method_reaches_the_scim_routing(live: LiveServer, method: str) -> None:
    with live.client(base=SCIM_PREFIXES[0]) as client:
        response = client.request(method, "/Users")
    assert response.status_code == 405, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("rest", ["/Users%0A", "/%0AUsers"])
def test_a_newline_in_the_path_is_a_scim_404(live: LiveServer, rest: str) -> None:
    """Under a base, a path with a newline is the SCIM routing's too, matched whole: no such endpoint."""
    with live.client(base=SCIM_PREFIXES[0]) as client:
        response = client.get(rest)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)


@pytest.mark.parametrize("path", [prefix + "x/Users" for prefix in SCIM_PREFIXES])
def test_a_path_that_only_starts_like_a_base_is_not_scim(live: LiveServer, path: str) -> None:
    with live.client(base="") as client:
        response = client.get(path)
    assert response.status_code == 404
    assert not response.headers["content-type"].startswith(SCIM_JSON)


def test_the_metrics_label_scim_by_its_endpoint(live: LiveServer) -> None:
    with live.client(base=SCIM_PREFIXES[1]) as client:
        assert client.get("/ServiceProviderConfig").status_code == 200
    with live.client(base="") as client:
        metrics = client.get("/metrics").text
    assert 'route="scim:/ServiceProviderConfig"' in metrics
