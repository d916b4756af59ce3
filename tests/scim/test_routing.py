"""The SCIM routing table: operations and the privilege each needs."""

from __future__ import annotations

import pytest

from scimhub.domain.roles import Privilege
from scimhub.errors import MethodNotAllowed, NotFound
from scimhub.scim.routing import ROUTES, Operation, match


def test_me_needs_only_a_valid_token() -> None:
    """GET /Me (RFC 7644 §3.11) maps to GET_ME and needs no privilege."""
    target = match("GET", "/Me")
    assert target.operation is Operation.GET_ME and target.privilege is None


def test_bulk_leaves_the_privilege_to_each_of_its_operations() -> None:
    """POST /Bulk needs only a valid token: each operation is checked against its own route (ADR 0034)."""
    target = match("POST", "/bulk/")
    assert target.operation is Operation.BULK and target.privilege is None


def test_every_other_route_needs_manage_users_and_groups() -> None:
    """Provisioning and discovery need MANAGE_USERS_AND_GROUPS, as DataHub's SCIM does."""
    for route in ROUTES:
        if route.operation not in (Operation.GET_ME, Operation.BULK):
            assert route.privilege is Privilege.MANAGE_USERS_AND_GROUPS, route
    assert match("GET", "/users/abc").privilege is Privilege.MANAGE_USERS_AND_GROUPS


@pytest.mark.parametrize(
    ("method", "operation"),
    [("PUT", Operation.REPLACE_ME), ("PATCH", Operation.PATCH_ME), ("DELETE", Operation.DELETE_ME)],
)
def test_me_is_written_with_the_provisioning_privilege(method: str, operation: Operation) -> None:
    """PUT, PATCH and DELETE of /Me need MANAGE_USERS_AND_GROUPS, as on /Users/{id} (ADR 0039)."""
    target = match(method, "/Me")
    assert target.operation is operation and target.privilege is Privilege.MANAGE_USERS_AND_GROUPS


def test_me_cannot_be_posted() -> None:
    """POST /Me is 405, allowing the four methods /Me takes."""
    with pytest.raises(MethodNotAllowed) as raised:
        match("POST", "/Me")
    assert raised.value.allowed == ("DELETE", "GET", "PATCH", "PUT")


@pytest.mark.parametrize("path", ["/Users\n", "/Users\n/", "/Users/abc/\n", "/ServiceProviderConfig\n"])
def test_a_trailing_newline_is_part_of_the_path(path: str) -> None:
    """A path is matched whole: a regex's ``$`` would match before its last newline and serve ``/Users``."""
    with pytest.raises(NotFound):
        match("GET", path)


def test_a_newline_inside_an_id_stays_in_the_id() -> None:
    """The id is what the path holds between its slashes, newline and all: no stored id has one."""
    assert match("GET", "/Users/ab\ncd").id == "ab\ncd"
