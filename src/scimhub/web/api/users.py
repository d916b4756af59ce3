"""``/api/v1/users`` and ``/api/v1/me``: users with their groups and roles, direct, inherited and effective.

A user's effective roles are its direct roles (provisioned by SCIM, or assigned
by an administrator) and the roles of every group it belongs to, DataHub's
``rolesViaGroups``; the SCIM User shows only what was provisioned.
"""

from __future__ import annotations

from typing import Any

from scimhub.directory.roles import UserRoles
from scimhub.domain.roles import Privilege, privileges_of
from scimhub.representations import user_json
from scimhub.services import Services
from scimhub.web.api.calls import PAGE_PARAMS, page_body, read_paging
from scimhub.web.api.routing import ApiCall, ApiRoute, Param, Reply
from scimhub.web.api.schemas import (
    NULLABLE_STRING,
    PRIVILEGES,
    ROLE_NAME,
    STRING,
    TIMESTAMP,
    Schema,
    array,
    enum,
    extending,
    obj,
    page_of,
    ref,
)

_TAG = "Users"


def list_users(hub: Services, call: ApiCall) -> Reply:
    """List users by userName, one page at a time, each with its groups and roles."""
    paging = read_paging(call, hub.settings.default_page_size, hub.settings.max_page_size)
    page = hub.users.by_user_name(paging.start, paging.count, with_groups=True)
    roles = hub.roles.of_users([v.user.id for v in page.items])
    return Reply(
        200, page_body(paging, page.total, "users", [user_json(v, roles[v.user.id]) for v in page.items])
    )


def _one_user(hub: Services, id: str) -> tuple[dict[str, Any], UserRoles]:
    view = hub.users.get(id, with_groups=True)
    roles = hub.roles.of_users([id])[id]
    return user_json(view, roles), roles


def get_user(hub: Services, call: ApiCall) -> Reply:
    """Show one user with its groups and its direct, inherited and effective roles."""
    return Reply(200, _one_user(hub, call.path["id"])[0])


def me(hub: Services, call: ApiCall) -> Reply:
    """Show the token's user, with the platform privileges its effective roles grant."""
    body, roles = _one_user(hub, call.actor.user_id)
    return Reply(200, {**body, "privileges": sorted(p.value for p in privileges_of(roles.effective))})


ROUTES = (
    ApiRoute(
        "GET",
        "/users",
        list_users,
        "listUsers",
        "List users",
        _TAG,
        privilege=Privilege.MANAGE_USERS_AND_GROUPS,
        rule="Ordered by userName; suspended users too (status SUSPENDED).",
        params=PAGE_PARAMS,
        response="UserPage",
    ),
    ApiRoute(
        "GET",
        "/users/{id}",
        get_user,
        "getUser",
        "Show a user",
        _TAG,
        privilege=Privilege.MANAGE_USERS_AND_GROUPS,
        rule="Roles: direct (provisioned or assigned), inherited (with the group), effective (their union).",
        params=(Param("id", "The user's SCIM id."),),
        response="User",
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/me",
        me,
        "getMe",
        "Show the token's user",
        _TAG,
        privilege=None,
        rule="Any valid token: the user the token acts as, its effective roles and privileges.",
        response="Me",
    ),
)

SCHEMAS: dict[str, Schema] = {
    "UserRoles": obj(
        {
            "direct": array(
                obj({"role": ROLE_NAME, "urn": STRING, "source": enum(["provisioned", "assigned"])})
            ),
            "inherited": array(obj({"role": ROLE_NAME, "urn": STRING, "group": ref("GroupRef")})),
            "effective": {**array(ref("RoleRef")), "description": "Direct ∪ inherited, highest first."},
        }
    ),
    "User": obj(
        {
            "id": STRING,
            "urn": STRING,
            "userName": STRING,
            "displayName": NULLABLE_STRING,
            "externalId": NULLABLE_STRING,
            "active": {"type": "boolean"},
            "status": enum(["ACTIVE", "SUSPENDED"]),
            "passwordSignIn": {"type": "boolean", "description": "Whether the user has a local password."},
            "createdAt": TIMESTAMP,
            "lastModifiedAt": TIMESTAMP,
            "groups": array(ref("GroupRef")),
            "roles": ref("UserRoles"),
        }
    ),
    "UserPage": page_of("User"),
    "Me": extending("User", {"privileges": PRIVILEGES}),
}
