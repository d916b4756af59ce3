"""A database unavailable while a token is checked or touched is a 503, never a 500, nor a refused token.

Found by adversarial runs. Session 23: with PostgreSQL's backends terminated, the minute's first
request of a token answered 500, the touch's ``ServiceUnavailable`` escaping the request. It is now
the request's answer, on the loop's path and on a bulk request's, and not a failed authentication.
Session 29: the 503s of a credential read during a PostgreSQL crash recovery counted as refused
tokens, and closed the address to its valid token with 429s for a while after the database was back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from scimhub.directory.actors import SYSTEM
from scimhub.directory.tokens import Verified
from scimhub.directory.users import UserRef
from scimhub.errors import ServiceUnavailable
from scimhub.settings import Settings
from scimhub.web.app import create_app
from scimhub.wiring import Services, build

SCIM = "/scim/v2"
BULK = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Services]:
    services = build(Settings(database_url=f"sqlite:///{tmp_path}/touch.db"))
    services.accounts.ensure_admin("an admin password for the tests")
    yield services
    services.close()


@pytest.fixture
def client(hub: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    token = hub.tokens.issue(SYSTEM, UserRef.by_name("admin"), "touch")[0].token

    def away(_verified: Verified) -> None:
        raise ServiceUnavailable("the database is unavailable (connection lost); retry in 5 seconds", 5)

    monkeypatch.setattr(hub.tokens, "touch", away)  # the token is new: its first request touches it
    with TestClient(create_app(hub), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize(
    "request_",
    [("GET", "/Users", None), ("POST", "/Bulk", BULK)],
    ids=["on the loop", "a bulk request, in a core thread"],
)
def test_a_touch_that_meets_an_outage_answers_503(
    client: TestClient, request_: tuple[str, str, object]
) -> None:
    method, path, body = request_
    answer = client.request(method, SCIM + path, json=body)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_an_outage_while_the_token_is_checked_closes_no_address(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More 503s than the failed-authentication burst, then the database back: served at once."""
    token = hub.tokens.issue(SYSTEM, UserRef.by_name("admin"), "check")[0].token
    verify = hub.tokens.verify

    def away(_token: str) -> Verified:
        raise ServiceUnavailable("the database is unavailable (connection lost); retry in 5 seconds", 5)

    with TestClient(create_app(hub), headers={"Authorization": f"Bearer {token}"}) as client:
        monkeypatch.setattr(hub.tokens, "verify", away)
        statuses = {client.get(SCIM + "/Users").status_code for _ in range(2 * Settings().auth_failure_limit)}
        monkeypatch.setattr(hub.tokens, "verify", verify)
        assert statuses == {503}
        assert client.get(SCIM + "/Users").status_code == 200
