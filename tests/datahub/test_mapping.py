"""Users and groups as DataHub aspects: pure rules, and the SDK reads each aspect back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.datahub.mapping import GroupState, UserState, external_type, group_proposals, user_proposals
from scimhub.domain.groups import Group
from scimhub.domain.roles import Role
from scimhub.domain.users import User


def a_user(**doc: Any) -> User:
    return User(
        "id-1", {"userName": "bjensen", **doc}, 1, 0, 1_700_000_000_123_456, None, "urn:li:corpuser:bjensen"
    )


def aspect(state: UserState, name: str) -> Any:
    return next(p.value for p in user_proposals(state, "SCIM") if p.aspect == name)


@pytest.mark.parametrize(
    ("emails", "chosen"),
    [
        ([{"value": "h@x", "type": "home"}, {"value": "w@x", "type": "work"}], "w@x"),
        ([{"value": "w@x", "type": "work"}, {"value": "p@x", "primary": True}], "p@x"),
        ([{"value": "o@x", "type": "other"}], "o@x"),
    ],
)
def test_email_is_the_primary_else_the_work_else_the_first(emails: list[dict[str, Any]], chosen: str) -> None:
    """Entra sends ``emails[type eq "work"]`` without ``primary``; it still becomes the email."""
    assert aspect(UserState(a_user(emails=emails), (), ()), "corpUserInfo")["email"] == chosen


def test_an_inactive_user_is_suspended_with_the_scim_actor_and_its_last_change() -> None:
    """``active: false`` is SUSPENDED in corpUserStatus (and false in the deprecated corpUserInfo.active)."""
    state = UserState(a_user(active=False), (), ())
    assert aspect(state, "corpUserStatus") == {
        "status": "SUSPENDED",
        "lastModified": {"time": 1_700_000_000_123, "actor": "urn:li:corpuser:SCIM_client"},
    }
    assert aspect(state, "corpUserInfo")["active"] is False


def test_external_type_follows_datahubs_scim_convention_or_a_fixed_name() -> None:
    """``{externalId}`` becomes the externalId, or ``null``; a template without it is used as is."""
    assert external_type("SCIM_client_{externalId}", {"externalId": "e-1"}) == "SCIM_client_e-1"
    assert external_type("SCIM_client_{externalId}", {}) == "SCIM_client_null"
    assert external_type("AZURE_AD", {"externalId": "e-1"}) == "AZURE_AD"


def test_roles_and_groups_are_full_lists() -> None:
    """DataHub replaces these aspects whole, so each carries every group and role."""
    state = UserState(a_user(), ("urn:li:corpGroup:a", "urn:li:corpGroup:b"), (Role.ADMIN, Role.READER))
    assert aspect(state, "groupMembership") == {"groups": ["urn:li:corpGroup:a", "urn:li:corpGroup:b"]}
    assert aspect(state, "roleMembership") == {
        "roles": ["urn:li:dataHubRole:Admin", "urn:li:dataHubRole:Reader"]
    }


def test_every_aspect_round_trips_through_the_sdk_classes() -> None:
    """What we send is exactly what the SDK's class for the aspect serializes: no field lost or added."""
    from datahub.metadata.schema_classes import ASPECT_NAME_MAP

    user = UserState(
        a_user(
            displayName="Babs",
            title="Guide",
            name={"givenName": "B", "familyName": "J", "formatted": "B J"},
            **{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"}},
        ),
        ("urn:li:corpGroup:a",),
        (Role.EDITOR,),
        "urn:li:corpuser:boss",
    )
    group = GroupState(Group("g-1", {"displayName": "Eng", "externalId": "e"}, 1, 0, 0), (Role.READER,))
    for proposal in [*user_proposals(user, "SCIM"), *group_proposals(group, "SCIM")]:
        cls = ASPECT_NAME_MAP[proposal.aspect]
        assert cls.from_obj(proposal.value).to_obj() == proposal.value, proposal.aspect
