"""scim2-tester, python-scim's conformance checker, against the live server on both backends.

``check_server`` discovers the service from ``/ServiceProviderConfig``,
``/ResourceTypes`` and ``/Schemas`` (what the server publishes is what it is
tested against), then runs every check it has on each resource type: create,
read, list, ``attributes``/``excludedAttributes`` on GET, list and
``/.search``, PUT, DELETE, and PATCH add/remove/replace of every writable
attribute, extensions included. ``core_schemas_validation`` is not called by
``check_server`` in 0.5.2, so it runs here too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckConfig, CheckContext

from tests.integration.conftest import SCIM, LiveServer


@pytest.fixture
def scim_client(live: LiveServer) -> Iterator[SyncSCIMClient]:
    """Yield a scim2-client on the SCIM base, with no description: check_server discovers it."""
    headers = {"Authorization": f"Bearer {live.token}"}
    with httpx2.Client(base_url=live.url + SCIM, headers=headers, timeout=30) as http:
        yield SyncSCIMClient(http)


def _describe(result: CheckResult) -> str:
    where = f"[{result.resource_type}] " if result.resource_type else ""
    summary = (result.description or "").strip().splitlines()[0] if result.description else ""
    return f"{result.status.name} {where}{result.title}: {summary}\n    reason: {result.reason}\n    data: {result.data!r}"


def test_every_scim2_tester_check_succeeds(scim_client: SyncSCIMClient) -> None:
    """Every check of scim2-tester, tags included, answers SUCCESS on the live server."""
    results = check_server(scim_client)
    context = CheckContext(scim_client, CheckConfig())
    results += core_schemas_validation(context)
    failures = [r for r in results if r.status is not Status.SUCCESS]
    assert not failures, f"{len(failures)} of {len(results)} checks failed:\n" + "\n".join(map(_describe, failures))
