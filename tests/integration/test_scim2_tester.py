"""scim2-tester, python-scim's conformance checker, against the live server on both backends.

``check_server`` discovers the service from ``/ServiceProviderConfig``,
``/ResourceTypes`` and ``/Schemas`` (what the server publishes is what it is
tested against), then runs every check it has on each resource type: create,
read, list, ``attributes``/``excludedAttributes`` on GET, list and
``/.search``, PUT, DELETE, and PATCH add/remove/replace of every writable
attribute, extensions included. No tag filter is given, so every tag runs;
``core_schemas_validation`` is not called by ``check_server`` in 0.5.2, so it
runs here too.

Every result must be SUCCESS. No SKIPPED is tolerated: 0.5.2 skips only when
PATCH is announced unsupported (it is supported), when a model has nothing to
test (not ours), or when ``/.search`` at the root answers 501 (it is served);
it has no bulk or cursor check, so ``bulk`` and ``pagination`` are tested by
test_bulk_http.py and test_cursor_http.py instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server, get_all_available_tags
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckConfig, CheckContext, ResourceManager

from tests.integration.conftest import SCIM, LiveServer

RESOURCE_CHECKS = {
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "search_with_attributes",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
}
"""What ``resource_type_tests`` runs on each resource type (0.5.2)."""


@pytest.fixture
def scim_client(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncSCIMClient]:
    """Yield a scim2-client on the SCIM base, with no description: check_server discovers it."""
    # 0.5.2's ResourceManager deletes every resource it ever created after each
    # check and never forgets them: ~560 DELETEs, ~500 of them 404s. Forgetting
    # what was cleaned up changes no check and keeps the run to a few seconds.
    cleanup = ResourceManager.cleanup

    def cleanup_once(manager: ResourceManager) -> None:
        cleanup(manager)
        manager.resources.clear()

    monkeypatch.setattr(ResourceManager, "cleanup", cleanup_once)
    headers = {"Authorization": f"Bearer {live.token}"}
    with httpx2.Client(base_url=live.url + SCIM, headers=headers, timeout=30) as http:
        yield SyncSCIMClient(http)


def _describe(result: CheckResult) -> str:
    where = f"[{result.resource_type}] " if result.resource_type else ""
    summary = (result.description or "").strip().splitlines()[0] if result.description else ""
    return (
        f"{result.status.name} {where}{result.title}: {summary}\n"
        f"    reason: {result.reason}\n    data: {result.data!r}"
    )


def test_every_scim2_tester_check_succeeds(scim_client: SyncSCIMClient) -> None:
    """Every check of scim2-tester, every tag, answers SUCCESS on the live server."""
    results = check_server(scim_client)
    results += core_schemas_validation(CheckContext(scim_client, CheckConfig()))

    failures = [r for r in results if r.status is not Status.SUCCESS]
    report = "\n".join(map(_describe, failures))
    assert not failures, f"{len(failures)} of {len(results)} checks failed:\n{report}"
    # check_server stops after discovery when it cannot describe the service:
    # all SUCCESS must also mean that everything ran.
    ran = {(r.resource_type, r.title) for r in results}
    assert {(t, check) for t in ("User", "Group") for check in RESOURCE_CHECKS} <= ran
    assert set(get_all_available_tags()) <= set().union(*(r.tags for r in results))
