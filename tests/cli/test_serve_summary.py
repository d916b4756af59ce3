"""``scimhub --version``, and the summary ``serve`` prints for a person before its JSON log lines."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scimhub.cli.app import app
from scimhub.cli.database import shown
from scimhub.cli.summary import scimhub_version
from tests.cli.conftest import Cli
from tests.integration.conftest import start_server, stop_server


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"scimhub {scimhub_version()}\n"
    assert scimhub_version()[0].isdigit()


def _summary(cli: Cli, tmp_path: Path, name: str) -> tuple[list[str], str]:
    """Start and stop ``serve``; return the lines it printed before its first JSON line, and its port."""
    log = tmp_path / f"{name}.log"
    process, base = start_server(cli.database_url, log)
    stop_server(process)
    lines = log.read_text().splitlines()
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert all(json.loads(line) for line in lines[first_json:] if line.startswith("{"))
    return lines[:first_json], base


def test_serve_prints_the_tenant_url_database_tokens_and_push_before_its_logs(
    cli: Cli, tmp_path: Path
) -> None:
    before, base = _summary(cli, tmp_path, "new")
    assert before[0] == f"scimhub {scimhub_version()}"
    assert f"  Tenant URL:    {base}/gms/openapi/scim/v2" in before
    assert f"  Database:      {shown(cli.database_url)}" in before
    assert any(
        line.startswith("  Access tokens: none that works yet: run `scimhub token create") for line in before
    )
    assert (
        "  DataHub push:  off (set SCIMHUB_DATAHUB_GMS_URL to push users and groups into DataHub)" in before
    )

    cli("token", "create", "--name", "entra")
    again, base = _summary(cli, tmp_path, "with-token")
    assert f"  Tenant URL:    {base}/gms/openapi/scim/v2" in again  # printed whether or not a token exists
    assert "  Access tokens: 1 usable (newest: 'entra', acting as urn:li:corpuser:admin)" in again
