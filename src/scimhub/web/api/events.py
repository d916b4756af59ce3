"""``/api/v1/events``: the audit view of the change events (``feed/audit.py``).

The events the Entity Events API publishes, searched by entity, actor, category
and time. Reading them needs GET_PLATFORM_EVENTS, the privilege the poll API
needs: the audit shows nothing a consumer of the feed could not read.
"""

from __future__ import annotations

from scimhub.domain.events import Category, Operation
from scimhub.domain.roles import Privilege
from scimhub.feed.audit import audit_json, read_audit_request
from scimhub.feed.requests import MAX_LIMIT
from scimhub.services import Services
from scimhub.web.api.routing import ApiCall, ApiRoute, Param, Reply
from scimhub.web.api.schemas import (
    MOMENT,
    NULLABLE_STRING,
    OFFSET,
    STRING,
    TEXT,
    Schema,
    array,
    enum,
    obj,
    ref,
)

_TAG = "Events"


def list_events(hub: Services, call: ApiCall) -> Reply:
    """Search the change events, newest first (or oldest first after an offset)."""
    page = hub.audit.search(call.actor, read_audit_request(call.query))
    body = {
        "events": [audit_json(offset, recorded) for offset, recorded in page.events],
        "next": page.next,
        "head": page.head,
    }
    return Reply(200, body)


def _query(name: str, description: str, schema: Schema) -> Param:
    return Param(name, description, "query", schema)


_CURSOR = "An offsetId (of an event, or `next`, or `head`)"

ROUTES = (
    ApiRoute(
        "GET",
        "/events",
        list_events,
        "listEvents",
        "Search the change events",
        _TAG,
        privilege=Privilege.GET_PLATFORM_EVENTS,
        rule="The EntityChangeEvents of the poll API, newest first; each `offsetId` can be polled from."
        " A well-formed offsetId this server did not issue (or another database's) is refused with 422.",
        params=(
            _query("entity", "Only changes of this entity (its URN).", TEXT),
            _query("actor", "Only changes made by this user (its URN).", TEXT),
            _query("category", "Only this category.", enum(Category)),
            _query("since", "Only changes made at or after this time (RFC 3339, or a date: UTC).", MOMENT),
            _query("until", "Only changes made before this time (RFC 3339, or a date: UTC).", MOMENT),
            _query("before", f"{_CURSOR}: only older events, newest first: the next page.", OFFSET),
            _query(
                "after",
                f"{_CURSOR}: only newer events, oldest first: following. With `before`: the events"
                " between the two, oldest first.",
                OFFSET,
            ),
            _query(
                "limit", "How many events at most.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
            ),
        ),
        response="EventPage",
    ),
)

_AUDIT_STAMP = obj(
    {"actor": STRING, "time": {"type": "integer", "description": "Milliseconds since the epoch."}}
)

SCHEMAS: dict[str, Schema] = {
    "ChangeEvent": obj(
        {
            "offsetId": {**STRING, "description": "The feed position right after this event."},
            "entityType": enum(["corpuser", "corpGroup"]),
            "entityUrn": STRING,
            "category": enum(Category),
            "operation": enum(Operation),
            "modifier": STRING,
            "parameters": {"type": "object"},
            "auditStamp": _AUDIT_STAMP,
            "version": {"type": "integer", "const": 0},
        },
        optional=("modifier", "parameters"),
        description="DataHub's EntityChangeEvent, as the poll API carries it, with its offset.",
    ),
    "EventPage": obj(
        {
            "events": array(ref("ChangeEvent")),
            "next": {**NULLABLE_STRING, "description": "Pass as `before` (or `after`) for the next page."},
            "head": {**STRING, "description": "The newest event's offset when this page was read."},
        }
    ),
}
