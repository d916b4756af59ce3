"""DataHub's own consumer against the live server: ``DataHubEventsConsumer`` polls, ``handle_pe`` decodes.

The code under test on the consumer side is ``acryl-datahub-actions`` (the test
extra), unchanged: the poll loop of its DataHub Cloud event source, and the
decoder that turns each polled item into an ``EntityChangeEvent_v1`` envelope.
Every kind of change scimhub records is made over SCIM and the JSON API, and
each must come out of DataHub's decoder as the EntityChangeEvent we meant.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveServer
from tests.integration.test_scim_http import PATCH_OP, unique

pytest.importorskip("datahub_actions", reason="acryl-datahub-actions (the test extra) is not installed")

from datahub.ingestion.graph.client import DatahubClientConfig, DataHubGraph  # noqa: E402
from datahub_actions.event.event_registry import ENTITY_CHANGE_EVENT_V1_TYPE  # type: ignore[import-untyped]  # noqa: E402
from datahub_actions.plugin.source.acryl.constants import PLATFORM_EVENT_TOPIC_NAME  # type: ignore[import-untyped]  # noqa: E402
from datahub_actions.plugin.source.acryl.datahub_cloud_event_source import DataHubEventSource  # type: ignore[import-untyped]  # noqa: E402
from datahub_actions.plugin.source.acryl.datahub_cloud_events_consumer import (  # type: ignore[import-untyped]  # noqa: E402
    DataHubEventsConsumer,
)

Decoded = tuple[str, str, str, str, str | None, dict[str, Any]]
"""(entityType, entityUrn, category, operation, modifier, parameters) as DataHub's classes read them."""


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def make_every_kind_of_change(live: LiveServer) -> list[Decoded]:
    """Make one change of every kind over SCIM and the API; return the events they must publish."""
    scim, api = live.client(), live.client(base="/api/v1")
    user_name, sleeper_name, group_name = unique("consumer"), unique("sleeper"), unique("Consumers")
    user = _ok(scim.post("/Users", json={"userName": user_name, "roles": [{"value": "Editor"}]}))
    _ok(scim.post("/Users", json={"userName": sleeper_name, "active": False}))

    def patch(path: str, *operations: dict[str, Any]) -> None:
        _ok(scim.patch(path, json={"schemas": [PATCH_OP], "Operations": list(operations)}))

    patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": True})
    patch(f"/Users/{user['id']}", {"op": "replace", "path": "displayName", "value": "Consumer"})
    group = _ok(scim.post("/Groups", json={"displayName": group_name, "members": [{"value": user["id"]}]}))
    patch(f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{user["id"]}"]'})
    _ok(api.put(f"/roles/Reader/groups/{group['id']}"))
    _ok(api.delete(f"/roles/Reader/groups/{group['id']}"))
    _ok(scim.delete(f"/Groups/{group['id']}"))
    _ok(scim.delete(f"/Users/{user['id']}"))
    scim.close()
    api.close()
    u, s, g = (
        f"urn:li:corpuser:{user_name}",
        f"urn:li:corpuser:{sleeper_name}",
        f"urn:li:corpGroup:{group_name}",
    )
    editor, reader = "urn:li:dataHubRole:Editor", "urn:li:dataHubRole:Reader"
    return [
        ("corpuser", u, "LIFECYCLE", "CREATE", None, {}),
        ("corpuser", u, "ROLE_MEMBERSHIP", "ADD", editor, {"roleUrn": editor, "source": "provisioned"}),
        ("corpuser", s, "LIFECYCLE", "CREATE", None, {}),
        ("corpuser", s, "LIFECYCLE", "SOFT_DELETE", None, {}),
        ("corpuser", u, "LIFECYCLE", "SOFT_DELETE", None, {}),
        ("corpuser", u, "LIFECYCLE", "REINSTATE", None, {}),
        ("corpuser", u, "ATTRIBUTE", "MODIFY", None, {"attributes": ["displayName"]}),
        ("corpGroup", g, "LIFECYCLE", "CREATE", None, {}),
        ("corpuser", u, "GROUP_MEMBERSHIP", "ADD", g, {"groupUrn": g}),
        ("corpuser", u, "GROUP_MEMBERSHIP", "REMOVE", g, {"groupUrn": g}),
        ("corpGroup", g, "ROLE_MEMBERSHIP", "ADD", reader, {"roleUrn": reader, "source": "assigned"}),
        ("corpGroup", g, "ROLE_MEMBERSHIP", "REMOVE", reader, {"roleUrn": reader, "source": "assigned"}),
        ("corpGroup", g, "LIFECYCLE", "HARD_DELETE", None, {}),
        ("corpuser", u, "LIFECYCLE", "HARD_DELETE", None, {}),
    ]


def consume(consumer: DataHubEventsConsumer, wanted: set[str], count: int) -> list[Decoded]:
    """Poll as DataHub's event source does until ``count`` events about ``wanted`` URNs were decoded."""
    found: list[Decoded] = []
    for _ in range(50):
        response = consumer.poll_events(topic=PLATFORM_EVENT_TOPIC_NAME, poll_timeout_seconds=2)
        for item in consumer.get_events(response):
            for envelope in DataHubEventSource.handle_pe(item):
                assert envelope.event_type == ENTITY_CHANGE_EVENT_V1_TYPE
                ece = envelope.event
                assert ece.version == 0 and ece.auditStamp.actor == "urn:li:corpuser:admin"
                assert ece.auditStamp.time > 1_600_000_000_000  # milliseconds, not microseconds
                if ece.entityUrn in wanted or ece.modifier in wanted:
                    found.append(
                        (
                            ece.entityType,
                            ece.entityUrn,
                            ece.category,
                            ece.operation,
                            ece.modifier,
                            ece.safe_parameters,
                        )
                    )
        if len(found) >= count:
            return found
    return found


@pytest.mark.parametrize("prefix", ["", "/gms"])
def test_datahubs_consumer_decodes_every_kind_of_change(live: LiveServer, prefix: str) -> None:
    """Every event kind comes out of DataHub's own poller and decoder, in commit order, exactly once."""
    graph = DataHubGraph(DatahubClientConfig(server=live.url + prefix, token=live.token))
    consumer = DataHubEventsConsumer(graph=graph)
    first = consumer.poll_events(topic=PLATFORM_EVENT_TOPIC_NAME, poll_timeout_seconds=0)
    assert first.count == 0 and consumer.offset_id == first.offsetId  # a new consumer starts at the newest
    expected = make_every_kind_of_change(live)
    wanted = {row[1] for row in expected}
    assert consume(consumer, wanted, len(expected)) == expected
    graph.close()
