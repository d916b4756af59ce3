"""A renamed user keeps the DataHub URN it was created with (ADR 0008), in every event about it."""

from __future__ import annotations

import pytest

from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.errors import Uniqueness
from scimhub.query.schema import USER
from scimhub.scim.patch import apply_patch, read_patch
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user
from tests.directory.test_events import ADMIN, events_since, head


def rename(hub: Services, user_id: str, user_name: str) -> None:
    """Rename a user as Entra does on a UPN change: ``Replace userName``."""
    operations = read_patch(USER, {"Operations": [{"op": "Replace", "path": "userName", "value": user_name}]})
    hub.users.update(ADMIN, user_id, lambda user: UserEdit(apply_patch(USER, user.doc, operations).doc))


def test_a_renamed_user_keeps_its_urn(hub: Services) -> None:
    """The userName changes, the URN does not; the event names the old URN and the changed attribute."""
    user = add_user(hub, "jdoe@contoso.com")
    start = head(hub)
    rename(hub, user.id, "jsmith@contoso.com")
    renamed = hub.users.get(user.id).user
    assert (renamed.user_name, renamed.urn) == ("jsmith@contoso.com", "urn:li:corpuser:jdoe@contoso.com")
    assert [
        (urn, category, parameters) for _, urn, category, _, _, parameters in events_since(hub, start)
    ] == [("urn:li:corpuser:jdoe@contoso.com", "ATTRIBUTE", {"attributes": ["userName"]})]


def test_membership_and_role_events_name_the_kept_urn(hub: Services) -> None:
    """After a rename, joining a group and gaining a role are events about the URN from creation."""
    user = add_user(hub, "jdoe")
    group = add_group(hub, "Data")
    rename(hub, user.id, "jsmith")
    start = head(hub)
    hub.groups.update(ADMIN, group.id, lambda g: GroupEdit(g.doc, MemberChange(add=(Member(user.id),))))
    hub.roles.assign(ADMIN, Role.EDITOR, "user", user.id)
    urns = {urn for _, urn, *_ in events_since(hub, start) if urn.startswith("urn:li:corpuser:")}
    assert urns == {"urn:li:corpuser:jdoe"}


def test_a_new_user_cannot_take_a_kept_urn(hub: Services) -> None:
    """The old userName is free, but the URN it makes still names the renamed user: Uniqueness."""
    user = add_user(hub, "jdoe")
    rename(hub, user.id, "jsmith")
    with pytest.raises(Uniqueness, match="urn:li:corpuser:jdoe"):
        add_user(hub, "jdoe")
    rename(hub, user.id, "jdoe")  # its own URN: fine
    assert hub.users.get(user.id).user.urn == "urn:li:corpuser:jdoe"
