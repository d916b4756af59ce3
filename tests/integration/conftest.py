"""The real server, over HTTP: ``scimhub serve`` in a subprocess, one per backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

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


def start_server(
    database_url: str, log: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``scimhub serve`` on a free port (``SUITE_ENV``, ``extra_env`` on top) and wait for /healthz."""
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
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scimhub serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"scimhub serve did not answer /healthz within 30 s: {log.read_text()[-2000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server gracefully (SIGTERM), killing it if it lingers."""
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
    process, url = start_server(session_database_url, log)
    try:
        yield LiveServer(url, session_database_url, token, log)
    finally:
        stop_server(process)


def own_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Yield a server of the calling module's own, on a fresh database of ``request.param``'s backend.

    For a module that stores thousands of users: on the shared server they would push
    other tests' users off the first page of its lists.
    """
    from tests.conftest import _postgres_database

    directory = tmp_path_factory.mktemp("own-server")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{directory}/scimhub.db"])
    else:
        urls = _postgres_database(request.getfixturevalue("postgres_admin_url"))
    url = next(urls)
    try:
        token = scimhub("token", "create", "--name", "tests", database_url=url).stdout.splitlines()[-1]
        process, server_url = start_server(url, directory / "serve.log")
        try:
            yield LiveServer(server_url, url, token, directory / "serve.log")
        finally:
            stop_server(process)
    finally:
        next(urls, None)  # drops the PostgreSQL database


@pytest.fixture
def scim(live: LiveServer) -> Iterator[httpx.Client]:
    """Yield a SCIM client of the live server, authenticated as admin."""
    with live.client() as client:
        yield client
