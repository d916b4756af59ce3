"""``/api/v1/roles``: DataHub's three roles, who holds them, and assigning them to users and groups.

The privilege to manage roles is DataHub's: MANAGE_POLICIES (Admin). Roles a SCIM
client provisioned stay the identity provider's: removing a role here removes
only an administrator's assignment (``Roles.unassign``).
"""

from __future__ import annotations

from typing import Any

from scimhub.domain.roles import ROLE_NAMES, Privilege, Role, find_role
from scimhub.errors import NotFound
from scimhub.representations import group_ref
from scimhub.services import Services
from scimhub.web.api.routing import ApiCall, ApiRoute, Operation, Param, Reply
from scimhub.web.api.schemas import PRIVILEGES, ROLE_NAME, STRING, Schema, array, enum, obj, ref

_TAG = "Roles"
_NAME = Param("name", f"The role: {ROLE_NAMES} (any case, or its urn:li:dataHubRole: URN).")
_PRINCIPALS = {"user": ("users", "userId", "user"), "group": ("groups", "groupId", "group")}
"""Principal → (path segment, path parameter, word for the document)."""
_DIRECT_SOURCES = ("provisioned", "assigned")


def _role_json(role: Role) -> dict[str, Any]:
    """Return a role as the API shows it: name, URN, description, platform privileges."""
    return {
        "name": role.value,
        "urn": role.urn,
        "description": role.description,
        "privileges": sorted(p.value for p in role.privileges),
    }


def _role(call: ApiCall) -> Role:
    role = find_role(call.path["name"])
    if role is None:
        raise NotFound(f"no role is called '{call.path['name']}'; the roles are {ROLE_NAMES}")
    return role


def list_roles(_: Services, __: ApiCall) -> Reply:
    """List the built-in roles, highest first."""
    return Reply(200, {"roles": [_role_json(role) for role in sorted(Role, key=lambda r: -r.rank)]})


def role_members(hub: Services, call: ApiCall) -> Reply:
    """List the users and groups that hold a role directly, with where each user's grant comes from."""
    role = _role(call)
    holders = hub.roles.holders(role)
    users = [
        {"id": h.id, "urn": h.urn, "userName": h.name, "source": h.source}
        for h in holders
        if h.kind == "user"
    ]
    groups = [group_ref(h.id, h.name, h.urn) for h in holders if h.kind == "group"]
    return Reply(200, {"role": _role_json(role), "users": users, "groups": groups})


def _change(principal: str, *, assign: bool) -> Operation:
    """Return the operation that assigns (or unassigns) a role to a ``user`` or ``group``."""
    _, param, _ = _PRINCIPALS[principal]

    def change(hub: Services, call: ApiCall) -> Reply:
        """Assign or unassign the role named in the path; tell whether anything changed."""
        role, id = _role(call), call.path[param]
        act = hub.roles.assign if assign else hub.roles.unassign
        changed = act(call.actor, role, principal, id)
        body = {
            "role": role.value,
            "roleUrn": role.urn,
            "principal": {"type": principal, "id": id},
            "changed": changed,
        }
        return Reply(200, body)

    return change


def _assignment_routes(principal: str) -> tuple[ApiRoute, ...]:
    segment, param, word = _PRINCIPALS[principal]
    target = Param(param, f"The {word}'s id (its SCIM id).")
    common: dict[str, Any] = {
        "tag": _TAG,
        "privilege": Privilege.MANAGE_POLICIES,
        "params": (_NAME, target),
        "response": "RoleAssignment",
        "errors": (404,),
    }
    return (
        ApiRoute(
            "PUT",
            f"/roles/{{name}}/{segment}/{{{param}}}",
            _change(principal, assign=True),
            f"assignRoleTo{word.capitalize()}",
            f"Assign a role to a {word}",
            rule=f"Idempotent: `changed` tells whether the {word} did not hold the assignment already.",
            **common,
        ),
        ApiRoute(
            "DELETE",
            f"/roles/{{name}}/{segment}/{{{param}}}",
            _change(principal, assign=False),
            f"unassignRoleFrom{word.capitalize()}",
            f"Unassign a role from a {word}",
            rule="Removes an administrator's assignment only; a role the SCIM client provisioned stays"
            " (`changed` is then false).",
            **common,
        ),
    )


ROUTES = (
    ApiRoute(
        "GET",
        "/roles",
        list_roles,
        "listRoles",
        "List the roles",
        _TAG,
        privilege=None,
        rule="Any valid token: the roles and their privileges are DataHub's, fixed.",
        response="RoleList",
    ),
    ApiRoute(
        "GET",
        "/roles/{name}/members",
        role_members,
        "listRoleMembers",
        "List the holders of a role",
        _TAG,
        privilege=Privilege.MANAGE_USERS_AND_GROUPS,
        rule="Users and groups holding the role directly; members of those groups inherit it.",
        params=(_NAME,),
        response="RoleMembers",
        errors=(404,),
    ),
    *_assignment_routes("user"),
    *_assignment_routes("group"),
)

SCHEMAS: dict[str, Schema] = {
    "Role": obj({"name": ROLE_NAME, "urn": STRING, "description": STRING, "privileges": PRIVILEGES}),
    "RoleList": obj({"roles": array(ref("Role"))}),
    "RoleMembers": obj(
        {
            "role": ref("Role"),
            "users": array(
                obj({"id": STRING, "urn": STRING, "userName": STRING, "source": enum(_DIRECT_SOURCES)})
            ),
            "groups": array(ref("GroupRef")),
        }
    ),
    "RoleAssignment": obj(
        {
            "role": ROLE_NAME,
            "roleUrn": STRING,
            "principal": obj({"type": enum(_PRINCIPALS), "id": STRING}),
            "changed": {
                "type": "boolean",
                "description": "Whether the assignment was made (or removed) now.",
            },
        }
    ),
}
