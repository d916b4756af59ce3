"""DataHub's wire format: EntityChangeEvent inside a PlatformEvent inside the poll envelope."""

from __future__ import annotations

import json

from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.feed.wire import entity_change_event, external_event, poll_response

MEMBERSHIP = ChangeEvent(
    "corpuser",
    "urn:li:corpuser:bjensen",
    Category.GROUP_MEMBERSHIP,
    Operation.ADD,
    "urn:li:corpuser:admin",
    1_700_000_000_123_456,
    modifier="urn:li:corpGroup:Admins",
    parameters={"groupUrn": "urn:li:corpGroup:Admins"},
)


def test_the_entity_change_event_has_datahubs_fields_exactly() -> None:
    """entityType, entityUrn, category, operation, modifier, parameters, auditStamp in ms, version 0."""
    assert entity_change_event(MEMBERSHIP) == {
        "entityType": "corpuser",
        "entityUrn": "urn:li:corpuser:bjensen",
        "category": "GROUP_MEMBERSHIP",
        "operation": "ADD",
        "modifier": "urn:li:corpGroup:Admins",
        "parameters": {"groupUrn": "urn:li:corpGroup:Admins"},
        "auditStamp": {"actor": "urn:li:corpuser:admin", "time": 1_700_000_000_123},
        "version": 0,
    }


def test_absent_optional_fields_are_left_out() -> None:
    """A CREATE has no modifier and no parameters, as in DataHub's sample event."""
    created = ChangeEvent(
        "corpGroup", "urn:li:corpGroup:x", Category.LIFECYCLE, Operation.CREATE, "urn:a", 5_000
    )
    assert set(entity_change_event(created)) == {
        "entityType",
        "entityUrn",
        "category",
        "operation",
        "auditStamp",
        "version",
    }


def test_each_layer_is_json_text_in_the_next() -> None:
    """The poll item's value is a PlatformEvent whose payload value is the EntityChangeEvent, as text."""
    item = external_event(MEMBERSHIP)
    assert item["contentType"] == "application/json"
    platform = json.loads(item["value"])
    assert platform["name"] == "entityChangeEvent"
    assert platform["header"] == {"timestampMillis": 1_700_000_000_123}
    assert platform["payload"]["contentType"] == "application/json"
    assert json.loads(platform["payload"]["value"]) == entity_change_event(MEMBERSHIP)


def test_the_poll_response_is_datahubs_envelope() -> None:
    """``{offsetId, count, events}`` with count the number of events."""
    body = poll_response("off", [MEMBERSHIP, MEMBERSHIP])
    assert set(body) == {"offsetId", "count", "events"}
    assert body["offsetId"] == "off" and body["count"] == 2 and len(body["events"]) == 2
