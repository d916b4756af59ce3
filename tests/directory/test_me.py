"""``/Me`` for a caller that is no SCIM User: a 404 that says so, on both backends."""

from __future__ import annotations

import orjson
import pytest

from scimhub.directory.actors import SYSTEM, Actor
from scimhub.domain.roles import Privilege
from scimhub.scim.messages import ScimRequest
from scimhub.wiring import Services
from tests.directory.conftest import add_user

BASE = "http://h/scim/v2"
PATCH = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "title", "value": "x"}],
}


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_me_of_the_command_line_operator_is_a_clear_404(hub: Services, method: str) -> None:
    """The operator (no SCIM User) asking /Me gets 404 naming its URN and that no User has its id."""
    body = (
        orjson.dumps(PATCH if method == "PATCH" else {"userName": "x"}) if method in ("PUT", "PATCH") else b""
    )
    response = hub.scim.handle(ScimRequest(method, "/Me", BASE, body=body, actor=SYSTEM))
    assert response.status == 404, response.body
    assert isinstance(response.body, dict)
    detail = response.body["detail"]
    assert SYSTEM.urn in detail and "no SCIM User has its id" in detail


def test_me_of_a_user_deleted_since_its_token_was_checked_is_a_clear_404(hub: Services) -> None:
    """A caller whose User was deleted after authentication gets the same 404, naming the id."""
    gone = add_user(hub, "gone")
    hub.users.delete(SYSTEM, gone.id)
    actor = Actor(gone.id, gone.urn, privileges=frozenset(Privilege))
    response = hub.scim.handle(ScimRequest("PATCH", "/Me", BASE, body=orjson.dumps(PATCH), actor=actor))
    assert response.status == 404 and isinstance(response.body, dict)
    assert f"no SCIM User has its id {gone.id!r}" in response.body["detail"]
