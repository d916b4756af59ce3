"""A user or group as DataHub holds it: its full state as aspects, ready to upsert (ADR 0013).

Pure: no SDK, no I/O. Every aspect is written whole (DataHub's UPSERT replaces
an aspect), so a user's ``groupMembership`` always lists every group it is in,
and re-sending a state changes nothing. The aspects DataHub's own SCIM server
writes (docs/datahub.md §4.5–§4.6, §5) are written as it writes them, with the
values in the JSON form the SDK's classes serialize to. We write more than it
does: ``corpGroupInfo`` for groups, ``departmentName`` and ``managerUrn``, a
group's ``roleMembership``, and the work email when none is marked primary;
and we never write ``corpUserEditableInfo`` or ``corpUserCredentials``, which
belong to DataHub's own sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scimhub.domain.groups import Group
from scimhub.domain.roles import Role
from scimhub.domain.users import User

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_ACTOR = "urn:li:corpuser:SCIM_client"
"""The actor of the audit stamps we write: the one DataHub's own SCIM server writes with."""
KEY_ASPECTS = {"corpuser": "corpUserKey", "corpGroup": "corpGroupKey"}


@dataclass(frozen=True)
class Proposal:
    """One aspect of one entity, upserted whole: a Metadata Change Proposal with changeType UPSERT."""

    entity_type: str
    """``corpuser`` or ``corpGroup``."""
    urn: str
    aspect: str
    """The aspect's name: ``corpUserInfo``, ``groupMembership``, …"""
    value: dict[str, Any]
    """The aspect as JSON, as the SDK's class for it serializes."""


@dataclass(frozen=True)
class Removal:
    """The hard delete of an entity, as DataHub's SCIM server does on DELETE (docs/datahub.md §4.7)."""

    entity_type: str
    urn: str


Change = Proposal | Removal


@dataclass(frozen=True)
class UserState:
    """Everything DataHub learns of a user, read in one transaction."""

    user: User
    groups: tuple[str, ...]
    """The URNs of the groups it belongs to directly: DataHub has no nested membership."""
    roles: tuple[Role, ...]
    """Its direct roles, provisioned or assigned, highest first; group roles stay on the group."""
    manager_urn: str | None = None
    """The URN of the stored user its enterprise ``manager`` names, if any."""


@dataclass(frozen=True)
class GroupState:
    """Everything DataHub learns of a group; its members are on the users' ``groupMembership``."""

    group: Group
    roles: tuple[Role, ...]


def external_type(template: str, doc: dict[str, Any]) -> str:
    """Return ``origin.externalType`` for an entity: ``{externalId}`` in ``template`` becomes its externalId.

    DataHub's SCIM server writes ``SCIM_client_<externalId>``, ``SCIM_client_null``
    without one, and treats only such entities as its own (docs/datahub.md §4.4).
    """
    external_id = doc.get("externalId")
    return template.replace("{externalId}", external_id if isinstance(external_id, str) else "null")


def user_proposals(state: UserState, origin: str) -> list[Proposal]:
    """Return a user's full state: info, status, origin, status, groups and roles, in that order."""
    user = state.user
    aspects: list[tuple[str, dict[str, Any]]] = [
        ("corpUserInfo", _user_info(state)),
        ("corpUserStatus", _user_status(user)),
        ("origin", {"type": "EXTERNAL", "externalType": external_type(origin, user.doc)}),
        ("status", {"removed": False}),
        ("groupMembership", {"groups": list(state.groups)}),
        ("roleMembership", {"roles": [role.urn for role in state.roles]}),
    ]
    return [Proposal("corpuser", user.urn, name, value) for name, value in aspects]


def group_proposals(state: GroupState, origin: str) -> list[Proposal]:
    """Return a group's full state: info, origin, status and roles, in that order.

    ``admins``, ``members`` and ``groups`` of ``corpGroupInfo`` are required but
    deprecated: membership lives on each user's ``groupMembership``.
    """
    group = state.group
    info = {"displayName": group.display_name, "admins": [], "members": [], "groups": []}
    aspects: list[tuple[str, dict[str, Any]]] = [
        ("corpGroupInfo", info),
        ("origin", {"type": "EXTERNAL", "externalType": external_type(origin, group.doc)}),
        ("status", {"removed": False}),
        ("roleMembership", {"roles": [role.urn for role in state.roles]}),
    ]
    return [Proposal("corpGroup", group.urn, name, value) for name, value in aspects]


def manager_id(user: User) -> str | None:
    """Return the SCIM id the user's enterprise ``manager.value`` names, if it names one."""
    manager = user.doc.get(ENTERPRISE, {}).get("manager")
    value = manager.get("value") if isinstance(manager, dict) else None
    return value if isinstance(value, str) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _email(doc: dict[str, Any]) -> str | None:
    """Return the primary email, else the first of type work, else the first.

    DataHub's SCIM server takes only a primary one; Entra's default mapping sends
    ``emails[type eq "work"]`` with no primary flag, which would leave it empty.
    """
    emails = [e for e in doc.get("emails", ()) if isinstance(e, dict) and isinstance(e.get("value"), str)]
    primary = [e for e in emails if e.get("primary") is True]
    work = [e for e in emails if str(e.get("type", "")).lower() == "work"]
    chosen = primary or work or emails
    return str(chosen[0]["value"]) if chosen else None


def _user_info(state: UserState) -> dict[str, Any]:
    doc = state.user.doc
    name: dict[str, Any] = doc["name"] if isinstance(doc.get("name"), dict) else {}
    fields = {
        "displayName": _text(doc.get("displayName")),
        "email": _email(doc),
        "title": _text(doc.get("title")),
        "managerUrn": state.manager_urn,
        "departmentName": _text(doc.get(ENTERPRISE, {}).get("department")),
        "firstName": _text(name.get("givenName")),
        "lastName": _text(name.get("familyName")),
        "fullName": _text(name.get("formatted")),
    }
    # ``active`` is required though deprecated for corpUserStatus; the SDK adds the two defaults.
    info: dict[str, Any] = {"customProperties": {}, "active": state.user.active}
    info |= {key: value for key, value in fields.items() if value is not None}
    return info | {"system": False}


def _user_status(user: User) -> dict[str, Any]:
    """Return ``corpUserStatus``: ACTIVE or SUSPENDED, as DataHub's SCIM server writes ``active``."""
    stamp = {"time": user.last_modified // 1000, "actor": SCIM_ACTOR}
    return {"status": "ACTIVE" if user.active else "SUSPENDED", "lastModified": stamp}
