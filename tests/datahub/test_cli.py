"""``scimhub datahub sync [--full]`` and ``scimhub datahub status [--json]`` against the stand-in GMS."""

from __future__ import annotations

from dataclasses import dataclass

from scimhub.wiring import Services, now_micros
from tests.cli.conftest import Cli
from tests.datahub.gms import StandInGms
from tests.directory.conftest import add_group, add_user


@dataclass(frozen=True)
class DataHubCli(Cli):
    """The command line with the push configured."""

    gms_url: str | None = None
    token: str = "gms-token"

    def env(self) -> dict[str, str | None]:
        return {**super().env(), "SCIMHUB_DATAHUB_GMS_URL": self.gms_url, "SCIMHUB_DATAHUB_TOKEN": self.token}


def test_status_without_configuration_says_off(hub: Services, database_url: str) -> None:
    """No GMS URL and no push ever: ``off``, with the lag behind the outbox."""
    add_user(hub, "alice")
    status = DataHubCli(database_url).json("datahub", "status")
    assert (status["state"], status["enabled"], status["checkpoint"]) == ("off", False, 0)
    assert status["lag"] == status["head"] > 0


def test_sync_pushes_until_caught_up(hub: Services, database_url: str, gms: StandInGms) -> None:
    """``sync`` says what it pushes to, pushes every change, and leaves no lag and no lease behind."""
    add_group(hub, "Engineering", add_user(hub, "alice"))
    cli = DataHubCli(database_url, gms.url)
    output = cli("datahub", "sync").stdout
    assert f"Pushing to DataHub GMS v1.7-stand-in at {gms.url}, writing as urn:li:corpuser:datahub." in output
    assert "DataHub is caught up" in output
    assert set(gms.entities()) == {"urn:li:corpuser:alice", "urn:li:corpGroup:Engineering"}
    status = cli.json("datahub", "status")
    assert (status["state"], status["lag"], status["leader"], status["enabled"]) == ("ok", 0, None, True)
    table = cli("datahub", "status").stdout
    assert "last success" in table and "0 event(s)" in table


def test_sync_full_pushes_everything_again(hub: Services, database_url: str, gms: StandInGms) -> None:
    """``--full`` writes every user and group even when nothing changed since the last push."""
    add_user(hub, "alice")
    cli = DataHubCli(database_url, gms.url)
    cli("datahub", "sync")
    before = len(gms.received)
    output = cli("datahub", "sync", "--full").stdout
    assert "Pushed 1 user(s) and group(s)." in output
    assert len(gms.received) == 2 * before


def test_sync_with_a_refused_token_fails_with_what_to_fix(
    hub: Services, database_url: str, gms: StandInGms
) -> None:
    """A 401 ends the command with exit code 1 and one line naming SCIMHUB_DATAHUB_TOKEN."""
    add_user(hub, "alice")
    cli = DataHubCli(database_url, gms.url, token="wrong")
    failed = cli.fails("datahub", "sync")
    assert failed.stderr.startswith("error: DataHub GMS at") and "SCIMHUB_DATAHUB_TOKEN" in failed.stderr


def test_sync_without_a_gms_url_says_what_to_set(database_url: str) -> None:
    """The push is configured by environment; the error names the variable."""
    failed = DataHubCli(database_url).fails("datahub", "sync")
    assert "SCIMHUB_DATAHUB_GMS_URL" in failed.stderr


def test_sync_refuses_while_another_process_pushes(hub: Services, database_url: str, gms: StandInGms) -> None:
    """The lease is held by a server: ``sync`` names it and changes nothing."""
    with hub.store.transaction() as tx:
        tx.push.lease("datahub", "server-1", now_micros(), now_micros() + 60_000_000)
    failed = DataHubCli(database_url, gms.url).fails("datahub", "sync")
    assert "another process (server-1) is pushing" in failed.stderr
    assert gms.received == []
