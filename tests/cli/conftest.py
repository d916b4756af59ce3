"""The command line in-process (Typer's CliRunner) against a fresh database, once per backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from scimhub.cli.app import app
from tests.directory.conftest import hub  # noqa: F401 - the fixture, for the tests here


@dataclass(frozen=True)
class Cli:
    """Run ``scimhub`` commands on one database."""

    database_url: str

    def env(self) -> dict[str, str | None]:
        """Return the environment a command runs with: this database, no configured admin password."""
        return {"SCIMHUB_DATABASE_URL": self.database_url, "SCIMHUB_ADMIN_PASSWORD": None, "COLUMNS": "200"}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run a command in-process and return its result; fail the test unless it exits 0."""
        result = CliRunner().invoke(app, list(args), input=input, env=self.env())
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        return result

    def json(self, *args: str) -> Any:
        """Run a command with ``--json`` and return what it printed, parsed."""
        return json.loads(self(*args, "--json").stdout)

    def fails(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -m scimhub`` in a subprocess, expect exit code 1, and return what it printed."""
        env = {k: v for k, v in {**os.environ, **self.env()}.items() if v is not None}
        result = subprocess.run(
            [sys.executable, "-m", "scimhub", *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result
        return result


@pytest.fixture
def cli(database_url: str) -> Cli:
    """Return the command line on a fresh database."""
    return Cli(database_url)


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run every command from a directory other than the project's, as a user's shell would."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
