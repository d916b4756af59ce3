"""Stored users and groups → their full SCIM representation (before projection)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from scimhub.directory.groups import GroupView
from scimhub.directory.users import UserView
from scimhub.domain.groups import Member
from scimhub.domain.versions import etag
from scimhub.query.schema import CORE_GROUP, CORE_USER, ENTERPRISE_USER
from scimhub.store.records import GroupRef

_EPOCH = datetime(1970, 1, 1)


def format_time(micros: int) -> str:
    """Return an RFC 3339 UTC timestamp with microseconds, as ``meta`` carries them."""
    # Integer arithmetic: exact at any magnitude, where a float of seconds may round.
    return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"


def _meta(
    resource_type: str, location: str, created: int, last_modified: int, version: int
) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": format_time(created),
        "lastModified": format_time(last_modified),
        "location": location,
        "version": etag(version),
    }


def user_representation(view: UserView, base_url: str) -> dict[str, Any]:
    """Return a user as RFC 7643 §4.1 renders it: schemas, id, attributes, groups, meta."""
    user = view.user
    schemas = [CORE_USER, ENTERPRISE_USER] if ENTERPRISE_USER in user.doc else [CORE_USER]
    resource: dict[str, Any] = {"schemas": schemas, "id": user.id, **user.doc}
    if view.groups is not None:
        resource["groups"] = [_group_ref(g, base_url) for g in view.groups]
    location = f"{base_url}/Users/{user.id}"
    resource["meta"] = _meta("User", location, user.created, user.last_modified, user.version)
    return resource


def group_representation(view: GroupView, base_url: str) -> dict[str, Any]:
    """Return a group as RFC 7643 §4.2 renders it, with members when they were read."""
    group = view.group
    resource: dict[str, Any] = {"schemas": [CORE_GROUP], "id": group.id, **group.doc}
    if view.members is not None:
        resource["members"] = member_list(view.members, base_url)
    location = f"{base_url}/Groups/{group.id}"
    resource["meta"] = _meta("Group", location, group.created, group.last_modified, group.version)
    return resource


def member_list(members: Iterable[Member], base_url: str) -> list[dict[str, Any]]:
    """Return members as RFC 7643 §4.2 ``members`` values, with ``$ref`` derived from the id."""
    rendered = []
    for member in members:
        item: dict[str, Any] = {
            "value": member.value,
            "$ref": f"{base_url}/{member.type}s/{member.value}",
            "type": member.type,
        }
        if member.display is not None:
            item["display"] = member.display
        rendered.append(item)
    return rendered


def _group_ref(group: GroupRef, base_url: str) -> dict[str, str]:
    return {
        "value": group.id,
        "$ref": f"{base_url}/Groups/{group.id}",
        "display": group.display_name,
        "type": "direct",
    }
