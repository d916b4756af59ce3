"""DataHub's wire format for change events (docs/datahub.md §6.1, §6.3).

Three layers, each JSON-encoded into a string field of the next, exactly as
``datahub-actions``' ``DataHubEventSource.handle_pe`` unwraps them:

1. the EntityChangeEvent (``EntityChangeEvent.pdl``; ``version`` is required and
   DataHub always sends 0; ``auditStamp.time`` is in milliseconds);
2. the PlatformEvent ``{header: {timestampMillis}, name: "entityChangeEvent",
   payload: {contentType, value: <1>}}`` (``mxe/PlatformEvent.pdl``);
3. the poll response's ``{contentType, value: <2>}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from scimhub.domain.events import ChangeEvent

CONTENT_TYPE = "application/json"
"""``GenericPayload.contentType``: "The only type currently supported is application/json"."""
PLATFORM_EVENT_NAME = "entityChangeEvent"
ECE_VERSION = 0


def entity_change_event(event: ChangeEvent) -> dict[str, Any]:
    """Return the EntityChangeEvent of a change, absent optional fields left out as DataHub does."""
    body: dict[str, Any] = {
        "entityType": event.entity_type,
        "entityUrn": event.entity_urn,
        "category": event.category.value,
        "operation": event.operation.value,
    }
    if event.modifier is not None:
        body["modifier"] = event.modifier
    if event.parameters:
        body["parameters"] = event.parameters
    body["auditStamp"] = {"actor": event.actor, "time": event.time // 1000}
    body["version"] = ECE_VERSION
    return body


def platform_event(event: ChangeEvent) -> dict[str, Any]:
    """Return the PlatformEvent that carries a change's EntityChangeEvent."""
    return {
        "header": {"timestampMillis": event.time // 1000},
        "name": PLATFORM_EVENT_NAME,
        "payload": {"contentType": CONTENT_TYPE, "value": _text(entity_change_event(event))},
    }


def external_event(event: ChangeEvent) -> dict[str, str]:
    """Return a change as one item of a poll response's ``events``."""
    return {"contentType": CONTENT_TYPE, "value": _text(platform_event(event))}


def poll_response(offset: str, events: Sequence[ChangeEvent]) -> dict[str, Any]:
    """Return the body of ``GET /openapi/v1/events/poll`` (``ExternalEventsResponse``)."""
    return {"offsetId": offset, "count": len(events), "events": [external_event(e) for e in events]}


def _text(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()
