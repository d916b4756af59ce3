"""``scimhub serve --workers N``: each worker accepts on a socket of its own (ADR 0060)."""

from __future__ import annotations

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SUITE_ENV, _free_port, running_server

BURST = 16


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/workers.db"


def _workers(parent: int) -> list[int]:
    """Return the worker processes of the server ``parent``."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _healthz_on_each(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    for sock in sockets:
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def _connections_per_process(port: int) -> collections.Counter[str]:
    listed = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return collections.Counter(re.findall(r"pid=(\d+)", listed))


@pytest.fixture
def two_workers(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with running_server(sqlite_url, tmp_path / "serve.log", {"SCIMHUB_WORKERS": "2"}) as (process, url):
        deadline = time.monotonic() + 60
        while len(_workers(process.pid)) < 2 or not _all_listening(url, process.pid):
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.2)
        yield process, url


def _all_listening(url: str, parent: int) -> bool:
    port = url.rsplit(":", 1)[1]
    listed = subprocess.run(["ss", "-tlnpH", f"( sport = :{port} )"], capture_output=True, text=True).stdout
    return set(re.findall(r"pid=(\d+)", listed)) == {str(pid) for pid in _workers(parent)}


def test_a_burst_of_connections_is_spread_over_the_workers(
    two_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    """16 connections opened at once: with a shared socket one worker could take them all; here
    the kernel spreads them by their addresses (all on one worker: odds of 2 in 65,536)."""
    process, url = two_workers
    host, port = url.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in range(BURST)]
    try:
        _healthz_on_each(sockets)
        spread = _connections_per_process(int(port))
    finally:
        for sock in sockets:
            sock.close()
    assert sum(spread.values()) == BURST
    assert set(spread) == {str(pid) for pid in _workers(process.pid)}, spread


def test_a_worker_that_dies_is_replaced(two_workers: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = two_workers
    first, second = _workers(process.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = _workers(process.pid)
        if len(now) == 2 and first not in now and _all_listening(url, process.pid):
            break
        assert time.monotonic() < deadline, f"no worker replaced {first}: {now}"
        time.sleep(0.2)
    assert second in now
    for _ in range(20):  # new connections each: both workers answer
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200


def test_sigterm_stops_the_workers_and_the_supervisor(
    two_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, _ = two_workers
    workers = _workers(process.pid)
    process.terminate()
    assert process.wait(timeout=30) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_an_address_in_use_is_refused_at_once(sqlite_url: str, tmp_path: Path) -> None:
    """Whatever holds the port, even another scimhub's workers (which could share it), is refused."""
    port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env = {**os.environ, **SUITE_ENV, "SCIMHUB_DATABASE_URL": sqlite_url, "SCIMHUB_WORKERS": "2"}
        done = subprocess.run(
            [sys.executable, "-m", "scimhub", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "cannot listen on 127.0.0.1" in done.stdout + done.stderr
