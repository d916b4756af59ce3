"""``/api/v1/groups``: read views of groups, with their assigned roles and member count.

Reading users and groups needs MANAGE_USERS_AND_GROUPS, the privilege SCIM
provisioning needs: the API shows nothing a provisioning client could not read.
"""

from __future__ import annotations

from scimhub.domain.roles import Privilege
from scimhub.representations import group_json
from scimhub.services import Services
from scimhub.web.api.calls import PAGE_PARAMS, page_body, read_paging
from scimhub.web.api.routing import ApiCall, ApiRoute, Param, Reply
from scimhub.web.api.schemas import (
    NULLABLE_STRING,
    ROLE_NAME,
    STRING,
    TIMESTAMP,
    Schema,
    array,
    extending,
    obj,
    page_of,
    ref,
)

_TAG = "Groups"


def list_groups(hub: Services, call: ApiCall) -> Reply:
    """List groups by displayName, one page at a time."""
    paging = read_paging(call, hub.settings.default_page_size, hub.settings.max_page_size)
    page = hub.groups.by_display_name(paging.start, paging.count)
    roles = hub.roles.of_groups([s.group.id for s in page.items])
    return Reply(
        200, page_body(paging, page.total, "groups", [group_json(s, roles[s.group.id]) for s in page.items])
    )


def get_group(hub: Services, call: ApiCall) -> Reply:
    """Show one group: its roles and how many members it has."""
    summary = hub.groups.summary(call.path["id"])
    return Reply(200, group_json(summary, hub.roles.of_groups([summary.group.id])[summary.group.id]))


ROUTES = (
    ApiRoute(
        "GET",
        "/groups",
        list_groups,
        "listGroups",
        "List groups",
        _TAG,
        privilege=Privilege.MANAGE_USERS_AND_GROUPS,
        rule="Ordered by displayName; each with its assigned roles and member count.",
        params=PAGE_PARAMS,
        response="GroupPage",
    ),
    ApiRoute(
        "GET",
        "/groups/{id}",
        get_group,
        "getGroup",
        "Show a group",
        _TAG,
        privilege=Privilege.MANAGE_USERS_AND_GROUPS,
        rule="The roles assigned to the group are inherited by every member.",
        params=(Param("id", "The group's SCIM id."),),
        response="Group",
        errors=(404,),
    ),
)

SCHEMAS: dict[str, Schema] = {
    "GroupRef": obj({"id": STRING, "urn": STRING, "displayName": STRING}),
    "RoleRef": obj({"role": ROLE_NAME, "urn": STRING}),
    "Group": extending(
        "GroupRef",
        {
            "externalId": NULLABLE_STRING,
            "memberCount": {"type": "integer", "minimum": 0},
            "roles": array(ref("RoleRef")),
            "createdAt": TIMESTAMP,
            "lastModifiedAt": TIMESTAMP,
        },
    ),
    "GroupPage": page_of("Group"),
}
