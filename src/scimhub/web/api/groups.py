"""``/api/v1/groups``: read views of groups, with their assigned roles and member count.

Reading users and groups needs MANAGE_USERS_AND_GROUPS, the privilege SCIM
provisioning needs: the API shows nothing a provisioning client could not read.
"""

from __future__ import annotations

from typing import Any

from scimhub.directory.groups import GroupSummary
from scimhub.domain.roles import Privilege, Role
from scimhub.scim.paths import resolve
from scimhub.scim.schema import GROUP
from scimhub.store.contract import Query
from scimhub.web.api.calls import PAGE_PARAMS, page_body, read_paging
from scimhub.web.api.routing import ApiCall, ApiRoute, Param, Reply
from scimhub.web.api.schemas import ROLE_NAME, STRING, Schema, array, extending, obj, page_of, ref
from scimhub.wiring import Services

_TAG = "Groups"
_BY_NAME = resolve(GROUP, "displayName")


def group_ref(id: str, display_name: str, urn: str) -> dict[str, str]:
    """Return a reference to a group: id, URN (the one from its creation, ADR 0037) and displayName."""
    return {"id": id, "urn": urn, "displayName": display_name}


def role_refs(roles: list[Role]) -> list[dict[str, str]]:
    """Return roles as ``{role, urn}`` pairs, highest first."""
    return [{"role": role.value, "urn": role.urn} for role in sorted(roles, key=lambda r: -r.rank)]


def _group_json(summary: GroupSummary, roles: list[Role]) -> dict[str, Any]:
    group = summary.group
    return {
        **group_ref(group.id, group.display_name, group.urn),
        "memberCount": summary.member_count,
        "roles": role_refs(roles),
    }


def list_groups(hub: Services, call: ApiCall) -> Reply:
    """List groups by displayName, one page at a time."""
    paging = read_paging(call, hub.settings.default_page_size, hub.settings.max_page_size)
    page = hub.groups.summaries(Query(sort_by=_BY_NAME, offset=paging.start, limit=paging.count))
    roles = hub.roles.of_groups([s.group.id for s in page.items])
    return Reply(
        200, page_body(paging, page.total, "groups", [_group_json(s, roles[s.group.id]) for s in page.items])
    )


def get_group(hub: Services, call: ApiCall) -> Reply:
    """Show one group: its roles and how many members it has."""
    summary = hub.groups.summary(call.path["id"])
    return Reply(200, _group_json(summary, hub.roles.of_groups([summary.group.id])[summary.group.id]))


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
        "GroupRef", {"memberCount": {"type": "integer", "minimum": 0}, "roles": array(ref("RoleRef"))}
    ),
    "GroupPage": page_of("Group"),
}
