"""Hostile and malformed SCIM requests against the handler, in-process (issue 11, item 3).

Many drawn requests (tests/integration/hostile_corpus.py) and the fixed corpus go
through ``ScimHandler.handle`` on a SQLite database: none may answer 5xx, and every
error must be an RFC 7644 §3.12 Error whose ``status`` is the HTTP status. The same
corpus runs over HTTP on both engines in tests/integration/test_hostile_scim.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from scimhub.directory.actors import SYSTEM
from scimhub.scim.messages import ScimRequest, ScimResponse
from scimhub.settings import Settings
from scimhub.wiring import Services, build
from tests.integration.hostile_corpus import Probe, check_answer, corpus, probes

BASE_URL = "https://scim.example/scim/v2"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Yield the services on a fresh SQLite database."""
    services = build(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'scimhub.db'}"))
    yield services
    services.close()


@pytest.fixture(scope="module")
def ids(hub: Services) -> tuple[str, str]:
    """Return the ids of the user and the group the probes' paths name."""
    user = _send(hub, Probe("POST", "/Users", body=b'{"userName": "hostile-target"}'))
    group = _send(hub, Probe("POST", "/Groups", body=b'{"displayName": "hostile-target"}'))
    assert user.body is not None and group.body is not None
    return user.body["id"], group.body["id"]


def _send(hub: Services, probe: Probe) -> ScimResponse:
    """Answer ``probe`` as the web layer would hand it over: path and query percent-decoded."""
    parts = urlsplit(probe.path)
    query = {**dict(parse_qsl(parts.query)), **probe.query}
    request = ScimRequest(
        probe.method,
        unquote(parts.path, errors="replace"),
        BASE_URL,
        query,
        probe.headers(),
        probe.body or b"",
        actor=SYSTEM,
    )
    return hub.scim.handle(request)


def _fault(response: ScimResponse) -> str | None:
    body = b"" if response.body is None else orjson.dumps(response.body)
    return check_answer(response.status, body)


@pytest.mark.parametrize("probe", corpus(), ids=lambda probe: probe.name)
def test_corpus_gets_no_server_error(hub: Services, ids: tuple[str, str], probe: Probe) -> None:
    """No request of the fixed corpus gets a 5xx; every error is SCIM-shaped."""
    assert _fault(_send(hub, probe.at(*ids))) is None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(probe=probes())
def test_drawn_requests_get_no_server_error(hub: Services, ids: tuple[str, str], probe: Probe) -> None:
    """No drawn search, body, PATCH path or filter gets a 5xx; every error is SCIM-shaped."""
    assert _fault(_send(hub, probe.at(*ids))) is None


def test_sql_injection_finds_nothing_and_changes_nothing(tmp_path: Path) -> None:
    """An injected filter value is a value: it matches no user, and every user is still there after.

    A database of its own: drawn requests may have stored a user named like an injection.
    """
    hub = build(Settings(database_url=f"sqlite:///{tmp_path / 'scimhub.db'}"))
    _send(hub, Probe("POST", "/Users", body=b'{"userName": "bystander", "title": "guide"}'))
    before = _send(hub, Probe("GET", "/Users", {"count": "0"})).body
    for probe in corpus():
        if probe.name.startswith("filter ") and "injection" in probe.name:
            response = _send(hub, probe)
            if response.status == 200:
                assert response.body is not None and response.body["totalResults"] == 0, probe.query
    after = _send(hub, Probe("GET", "/Users", {"count": "0"})).body
    hub.close()
    assert after == before
    assert before is not None and before["totalResults"] == 1


def test_lone_surrogate_in_a_filter_is_invalid_filter(hub: Services) -> None:
    """A filter literal holding an escaped lone surrogate is invalidFilter, as a body holding one is."""
    response = _send(hub, Probe("GET", "/Users", {"filter": 'userName eq "\\ud800"'}))
    assert response.status == 400
    assert response.body is not None and response.body["scimType"] == "invalidFilter"
    assert "lone surrogate" in response.body["detail"]
