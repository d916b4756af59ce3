"""Users and groups as JSON objects: the one form the JSON API answers and the command line prints.

Each is made by one function here, so ``GET /api/v1/users/{id}`` and ``scimhub user show --json``
cannot drift apart; the API's OpenAPI schemas (``web/api/users.py``, ``web/api/groups.py``) describe
exactly these objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scimhub.directory.groups import GroupSummary
from scimhub.directory.roles import UserRoles
from scimhub.directory.users import UserView
from scimhub.domain.roles import Role


def iso(micros: int | None) -> str | None:
    """Return microseconds since the epoch as ``2026-01-02T03:04:05Z``, or None."""
    if micros is None:
        return None
    return (
        datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def group_ref(id: str, display_name: str, urn: str) -> dict[str, str]:
    """Return a reference to a group: id, URN (the one from its creation, ADR 0037) and displayName."""
    return {"id": id, "urn": urn, "displayName": display_name}


def role_refs(roles: list[Role]) -> list[dict[str, str]]:
    """Return roles as ``{role, urn}`` pairs, highest first."""
    return [{"role": role.value, "urn": role.urn} for role in sorted(roles, key=lambda r: -r.rank)]


def user_roles_json(roles: UserRoles) -> dict[str, Any]:
    """Return a user's roles: direct (with their source), inherited (with the group) and effective."""
    return {
        "direct": [{"role": g.role.value, "urn": g.role.urn, "source": g.source} for g in roles.direct],
        "inherited": [
            {
                "role": g.role.value,
                "urn": g.role.urn,
                "group": group_ref(g.group.id, g.group.display_name, g.group.urn),
            }
            for g in roles.inherited
            if g.group is not None
        ],
        "effective": role_refs(list(roles.effective)),
    }


def user_json(view: UserView, roles: UserRoles) -> dict[str, Any]:
    """Return a user with its groups and roles."""
    user = view.user
    return {
        "id": user.id,
        "urn": user.urn,
        "userName": user.user_name,
        "displayName": user.doc.get("displayName"),
        "externalId": user.doc.get("externalId"),
        "active": user.active,
        "status": "ACTIVE" if user.active else "SUSPENDED",
        "passwordSignIn": user.password_hash is not None,
        "createdAt": iso(user.created),
        "lastModifiedAt": iso(user.last_modified),
        "groups": [group_ref(g.id, g.display_name, g.urn) for g in view.groups or ()],
        "roles": user_roles_json(roles),
    }


def group_json(summary: GroupSummary, roles: list[Role]) -> dict[str, Any]:
    """Return a group with its member count and the roles every member holds through it."""
    group = summary.group
    return {
        "id": group.id,
        "urn": group.urn,
        "displayName": group.display_name,
        "externalId": group.doc.get("externalId"),
        "memberCount": summary.member_count,
        "roles": role_refs(roles),
        "createdAt": iso(group.created),
        "lastModifiedAt": iso(group.last_modified),
    }
