"""Against a real DataHub, when one is given: ``DATAHUB_GMS_URL`` and ``DATAHUB_GMS_TOKEN``.

DataHub cannot run on this project's machines (docs/datahub.md §8),
so this test runs only where an operator points it at one; it writes a user and
a group with unique names, reads them back through the SDK, and deletes them.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import pytest

from scimhub.datahub.emitter import EmitterSink
from scimhub.datahub.pusher import Pusher, PushOptions
from scimhub.directory.actors import SYSTEM
from scimhub.settings import Secret, Settings
from scimhub.wiring import Services, build, now_micros
from tests.directory.conftest import add_group, add_user

URL, TOKEN = os.environ.get("DATAHUB_GMS_URL"), os.environ.get("DATAHUB_GMS_TOKEN")
pytestmark = pytest.mark.skipif(
    not (URL and TOKEN), reason="no real DataHub: set DATAHUB_GMS_URL and DATAHUB_GMS_TOKEN to run it"
)


@pytest.fixture
def services(tmp_path: object) -> Iterator[Services]:
    hub = build(Settings(database_url=f"sqlite:///{tmp_path}/scimhub.db"))
    yield hub
    hub.close()


def test_a_user_and_group_reach_a_real_datahub_and_leave_it(services: Services) -> None:
    """What the push writes reads back from GMS through the SDK; a deleted user is gone from it."""
    from datahub.ingestion.graph.client import DatahubClientConfig, DataHubGraph
    from datahub.metadata.schema_classes import CorpUserInfoClass, CorpUserStatusClass, GroupMembershipClass

    assert URL and TOKEN
    suffix = uuid.uuid4().hex[:8]
    alice = add_user(services, f"scimhub-test-{suffix}", displayName="scimhub test user", active=False)
    group = add_group(services, f"scimhub-test-{suffix}", alice)
    pusher = Pusher(services.store, lambda: EmitterSink(URL, Secret(TOKEN), 30), now_micros, PushOptions())
    pusher.run(threading.Event(), until_caught_up=True, max_failures=3)
    graph = DataHubGraph(DatahubClientConfig(server=URL, token=TOKEN))
    try:
        info = graph.get_aspect(alice.urn, CorpUserInfoClass)
        assert info is not None and info.displayName == "scimhub test user"
        status = graph.get_aspect(alice.urn, CorpUserStatusClass)
        assert status is not None and status.status == "SUSPENDED"
        membership = graph.get_aspect(alice.urn, GroupMembershipClass)
        assert membership is not None and membership.groups == [group.urn]
        services.groups.delete(SYSTEM, group.id)
        services.users.delete(SYSTEM, alice.id)
        pusher.run(threading.Event(), until_caught_up=True, max_failures=3)
        assert graph.get_aspect(alice.urn, CorpUserInfoClass) is None
    finally:
        pusher.release()
        graph.close()
