"""``EmitterSink``: the real SDK against the stand-in GMS; every misconfiguration says what to fix."""

from __future__ import annotations

import builtins
import socket
from typing import Any

import pytest

from scimhub.datahub.emitter import MISSING_SDK, EmitterSink
from scimhub.datahub.mapping import Change, Proposal, Removal
from scimhub.datahub.sink import GmsUnavailable, PushRefused
from scimhub.settings import Secret
from tests.datahub.gms import Fault, Received, StandInGms

STATUS = {"removed": False}


def sink(gms: StandInGms, token: str = "gms-token", timeout: float = 5) -> EmitterSink:
    return EmitterSink(gms.url, Secret(token), timeout)


def test_check_names_the_gms_and_the_token_user(gms: StandInGms) -> None:
    """``check`` reads ``/config`` (GMS's shape, ``noCode: "true"``) and whom GMS takes the token for."""
    assert sink(gms).check() == f"DataHub GMS v1.7-stand-in at {gms.url}, writing as urn:li:corpuser:datahub"


def test_push_sends_upserts_in_batches_and_deletes_by_urn(gms: StandInGms) -> None:
    """Runs of proposals go in one ``ingestProposalBatch``; each removal is an ``entities?action=delete``."""
    changes: list[Change] = [
        Proposal("corpuser", "urn:li:corpuser:a", "status", STATUS),
        Proposal("corpuser", "urn:li:corpuser:b", "status", STATUS),
        Removal("corpuser", "urn:li:corpuser:c"),
        Proposal("corpGroup", "urn:li:corpGroup:g", "status", STATUS),
    ]
    sink(gms).push(changes)
    assert gms.received == [
        Received("urn:li:corpuser:a", "status", STATUS),
        Received("urn:li:corpuser:b", "status", STATUS),
        Received("urn:li:corpuser:c", "DELETE", None),
        Received("urn:li:corpGroup:g", "status", STATUS),
    ]
    posts = [path for method, path in gms.requests if method == "POST" and "action=" in path]
    assert posts == [
        "/aspects?action=ingestProposalBatch",
        "/entities?action=delete",
        "/aspects?action=ingestProposalBatch",
    ]


def test_a_wrong_token_is_refused_with_what_to_fix(gms: StandInGms) -> None:
    """A 401 halts the push and names SCIMHUB_DATAHUB_TOKEN."""
    with pytest.raises(PushRefused, match="SCIMHUB_DATAHUB_TOKEN"):
        sink(gms, token="wrong").check()


def test_a_forbidden_push_names_the_privilege(gms: StandInGms) -> None:
    """A 403 on ingest halts the push and says the token's user needs Manage Users & Groups."""
    gms.faults.append(Fault(status=403))
    with pytest.raises(PushRefused, match="Manage Users & Groups"):
        sink(gms).push([Proposal("corpuser", "urn:li:corpuser:a", "status", STATUS)])


@pytest.mark.parametrize("config", [{"config": {"authentication": True}}, "<html>DataHub</html>"])
def test_a_frontend_url_is_told_apart_from_gms(gms: StandInGms, config: Any) -> None:
    """A ``/config`` without ``noCode: "true"`` (JSON or not) is the frontend; the error says what to do."""
    gms.config = config
    with pytest.raises(PushRefused, match="frontend") as raised:
        sink(gms).check()
    assert "/api/gms" in raised.value.detail and "SCIMHUB_DATAHUB_GMS_URL" in raised.value.detail


def test_an_unreachable_gms_is_retryable() -> None:
    """Nothing listening: the push is retried later, and the message names the URL setting."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GmsUnavailable, match="unreachable"):
        EmitterSink(f"http://127.0.0.1:{port}", None, 2).check()


@pytest.mark.parametrize("fault", [Fault(status=500), Fault(status=503), Fault(status=429), Fault(delay=1.5)])
def test_server_errors_and_timeouts_are_retryable(gms: StandInGms, fault: Fault) -> None:
    """5xx, 429 and a reply slower than the timeout are retried with backoff, not reported as fatal."""
    gms.faults.append(fault)
    with pytest.raises(GmsUnavailable):
        sink(gms, timeout=1).push([Proposal("corpuser", "urn:li:corpuser:a", "status", STATUS)])


def test_without_the_sdk_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core runs without ``acryl-datahub``; configuring the push without it names the extra."""
    real_import = builtins.__import__

    def no_datahub(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "datahub" or name.startswith("datahub."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datahub)
    with pytest.raises(PushRefused) as raised:
        EmitterSink("http://127.0.0.1:1", None, 1)
    assert raised.value.detail == MISSING_SDK
    assert "pip install 'scimhub[datahub]'" in MISSING_SDK


def test_the_core_does_not_import_the_sdk() -> None:
    """Building the services, serving and the CLI import no ``datahub`` module until a push runs."""
    import subprocess
    import sys

    code = (
        "import sys, scimhub.wiring, scimhub.web.app, scimhub.cli.app;"
        "print(sorted(m for m in sys.modules if m == 'datahub' or m.startswith('datahub.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
