"""The real server, over HTTP: ``scimhub serve`` in a subprocess, one per backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import postgres_database

SCIM = "/scim/v2"


@dataclass(frozen=True)
class LiveServer:
    """A running scimhub and a token for it."""

    url: str
    database_url: str
    token: str
    log: Path

    def client(self, token: str | None = None, base: str = SCIM) -> httpx.Client:
        """Return an HTTP client for the SCIM base, authenticated with ``token`` (default: admin's)."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url + base, headers=headers, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scimhub(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    """Run the scimhub command line against ``database_url``; fail the test on a non-zero exit."""
    env = {**os.environ, "SCIMHUB_DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "scimhub", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result


SUITE_ENV = {"SCIMHUB_AUTH_FAILURE_LIMIT": "0"}
"""What the suite's servers run with unless a test says otherwise: the suite presents hundreds of refused
tokens from 127.0.0.1 on purpose, which the failed-authentication throttle (ADR 0023) would answer 429.
Its own tests (test_limits_and_metrics.py) turn it on; the rate limits keep their defaults."""


START_TIMEOUT = float(os.environ.get("SCIMHUB_TEST_START_TIMEOUT", "120"))
"""How long a server may take to answer /healthz: generous, because under ``pytest -n`` on a loaded
2-core machine a cold start (imports, migrations) has taken over 30 s."""


@contextmanager
def running_server(
    database_url: str, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``scimhub serve`` (see ``start_server``) while the block runs; stop and reap it on exit.

    Yields the process and its base URL once /healthz answers 200. Every test and bench that needs a
    server of its own uses this, so none leaves a child behind to surface as a ResourceWarning in an
    unrelated test.
    """
    process, url = start_server(database_url, log, extra_env)
    try:
        yield process, url
    finally:
        stop_server(process)


def start_server(
    database_url: str, log: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``scimhub serve`` on a free port (``SUITE_ENV``, ``extra_env`` on top) and wait for /healthz.

    The caller owns the process and must ``stop_server`` it; when it does not start in time it is
    stopped and reaped here. Prefer ``running_server``, which cannot forget.
    """
    port = _free_port()
    env = {**os.environ, "SCIMHUB_DATABASE_URL": database_url, **SUITE_ENV, **(extra_env or {})}
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "scimhub", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url, log)
    except BaseException:
        stop_server(process)
        raise
    return process, url


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scimhub serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(
        f"scimhub serve did not answer /healthz within {START_TIMEOUT:g} s: {log.read_text()[-2000:]}"
    )


def stop_server(process: subprocess.Popen[Any]) -> None:
    """Stop a server (or any child) gracefully (SIGTERM), killing it if it lingers; always reap it."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def live(session_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Yield a live server on each backend, with an admin token."""
    token = scimhub(
        "token", "create", "--name", "tests", database_url=session_database_url
    ).stdout.splitlines()[-1]
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with running_server(session_database_url, log) as (_, url):
        yield LiveServer(url, session_database_url, token, log)


def own_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Yield a server of the calling module's own, on a fresh database of ``request.param``'s backend.

    For a module that stores thousands of users: on the shared server they would push
    other tests' users off the first page of its lists.
    """
    directory = tmp_path_factory.mktemp("own-server")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{directory}/scimhub.db"
        else:
            url = stack.enter_context(postgres_database(request.getfixturevalue("postgres_admin_url")))
        token = scimhub("token", "create", "--name", "tests", database_url=url).stdout.splitlines()[-1]
        _, server_url = stack.enter_context(running_server(url, directory / "serve.log"))
        yield LiveServer(server_url, url, token, directory / "serve.log")


@pytest.fixture
def scim(live: LiveServer) -> Iterator[httpx.Client]:
    """Yield a SCIM client of the live server, authenticated as admin."""
    with live.client() as client:
        yield client
