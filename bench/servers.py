"""The processes and databases a benchmark run starts, and the CPU they spend.

Everything here is started by the run and stopped or dropped by it: a server
subprocess on a free port of 127.0.0.1, a SQLite file in the run's temporary
directory, a PostgreSQL database named ``scimhub_bench_<random>``. A server's
CPU and memory are those of its whole process tree: with ``--workers`` the
requests are served by uvicorn's worker processes, not by the process started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


POSTGRES_ADMIN_URL = os.environ.get(
    "SCIMHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL server's admin database benchmark databases are created from (``--postgres-url``)."""


def _stat_fields(stat: str) -> list[str]:
    """Return the fields of a ``/proc/<pid>/stat`` after the command name, from the state on."""
    return stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses


def _cpu_of(stat: str) -> int:
    """Return utime + stime, in clock ticks, from the text of a ``/proc/<pid>/stat``."""
    fields = _stat_fields(stat)
    return int(fields[11]) + int(fields[12])


def process_cpu(pid: int) -> float:
    """Return the CPU seconds one process has spent, in user space and in the kernel."""
    return _cpu_of(Path(f"/proc/{pid}/stat").read_text()) / _TICKS


def _process_tree(pid: int) -> list[int]:
    """Return ``pid`` and every live descendant of it (uvicorn's workers and their helpers)."""
    children: dict[int, list[int]] = {}
    for process in Path("/proc").glob("[0-9]*"):
        try:
            parent = int(_stat_fields((process / "stat").read_text())[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        children.setdefault(parent, []).append(int(process.name))
    tree, index = [pid], 0
    while index < len(tree):
        tree.extend(children.get(tree[index], []))
        index += 1
    return tree


def _status_kib(pid: int, key: str) -> int:
    """Return a ``kB`` figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def postgres_cpu(database: str) -> float:
    """Return the CPU seconds of the PostgreSQL backends connected to ``database`` (by process title)."""
    total = 0
    for process in Path("/proc").glob("[0-9]*"):
        try:
            title = (process / "cmdline").read_bytes()
            if not title.startswith(b"postgres: ") or f" {database} ".encode() not in title:
                continue
            total += _cpu_of((process / "stat").read_text())
        except OSError:
            continue  # the process ended meanwhile
    return total / _TICKS


def machine_busy() -> float:
    """Return the CPU seconds all cores have spent busy since boot, every process together."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass(frozen=True)
class Spent:
    """The CPU seconds each party spent while something ran."""

    server: float
    """The server: its process and its workers, all threads."""
    database: float
    """PostgreSQL's backends connected to the benchmark database (0 without one: SQLite is in-process)."""
    other: float
    """The machine beyond this process, the server and the database: other work sharing the cores."""


def spent_during(server: ServerProcess, database: str, run: Callable[[], T]) -> tuple[T, Spent]:
    """Call ``run`` (a load run); return its result and the CPU each party spent meanwhile.

    This process's CPU is taken over the same span as the machine's, so that
    reading /proc and opening connections count as the client's, not as other work.
    """
    mine, busy = time.process_time(), machine_busy()
    cpu, database_cpu = server.cpu_seconds(), postgres_cpu(database) if database else 0.0
    result = run()
    cpu = server.cpu_seconds() - cpu
    database_cpu = (postgres_cpu(database) if database else 0.0) - database_cpu
    busy, mine = machine_busy() - busy, time.process_time() - mine
    return result, Spent(cpu, database_cpu, max(busy - mine - cpu - database_cpu, 0.0))


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server subprocess on a free port of 127.0.0.1, started and waited for until it answers."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log: Path,
        ready_path: str = "/healthz",
        startup_seconds: float = 60,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("wb") as output:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                [*args, "--port", str(self.port)], env=env, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + startup_seconds
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{' '.join(args)} exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        waited = f"within {startup_seconds:g} s"
        raise RuntimeError(
            f"{' '.join(args)} did not answer {ready_path} {waited}: {log.read_text()[-2000:]}"
        )

    def cpu_seconds(self) -> float:
        """Return the CPU time the process and its live descendants have spent so far, all threads."""
        total = 0
        for pid in _process_tree(self.popen.pid):
            try:
                total += _cpu_of(Path(f"/proc/{pid}/stat").read_text())
            except OSError:
                continue  # it ended meanwhile
        return total / _TICKS

    def rss_bytes(self) -> int:
        """Return the resident memory of the process and its live descendants, now."""
        return sum(_status_kib(pid, "VmRSS") for pid in _process_tree(self.popen.pid)) * 1024

    def peak_rss_bytes(self) -> int:
        """Return the sum of the peak resident memory of the process and each live descendant."""
        return sum(_status_kib(pid, "VmHWM") for pid in _process_tree(self.popen.pid)) * 1024

    def stop(self) -> None:
        """Stop the process gracefully (SIGTERM), killing it if it lingers."""
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class FreshDatabase:
    """A new, empty database for one backend; ``drop`` removes it."""

    def __init__(self, backend: str, workdir: Path, postgres_admin_url: str) -> None:
        self.backend, self._admin_url = backend, postgres_admin_url
        self.name = ""
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir}/scimhub-bench.db"  # the run's temporary directory goes with it
            return
        self.name = f"scimhub_bench_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.url = make_url(postgres_admin_url).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        engine = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def settle(self) -> None:
        """Bring PostgreSQL's statistics and visibility map up to date, as autovacuum would after a bulk load.

        SQLite is left as scimhub leaves it: the server never runs ANALYZE there.
        """
        if self.backend != "postgresql":
            return
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text("VACUUM ANALYZE"))
        finally:
            engine.dispose()

    def drop(self) -> None:
        """Drop the PostgreSQL database, closing any connection left to it."""
        if self.backend == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def script_server(script: Path, log: Path, workers: int = 1, ready_path: str = "/healthz") -> ServerProcess:
    """Start one of bench/'s own servers (floor.py, peer.py) with this interpreter, and wait for it."""
    command = [sys.executable, str(script)] + (["--workers", str(workers)] if workers > 1 else [])
    return ServerProcess(command, dict(os.environ), log, ready_path)


def scimhub_token(database_url: str) -> str:
    """Return a new access token from ``scimhub token create`` (which also creates the admin user)."""
    return scimhub_command(database_url, "token", "create", "--name", "bench").strip().splitlines()[-1]


def scimhub_server(
    database_url: str, log: Path, workers: int = 1, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start ``python -m scimhub serve`` on ``database_url``, as an operator would, and wait for it.

    ``env`` adds to this process's environment: ``PYTHONPATH`` serves another source tree.
    """
    env = {**os.environ, **(env or {}), "SCIMHUB_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "scimhub", "serve"]
    return ServerProcess(command + (["--workers", str(workers)] if workers > 1 else []), env, log)


def scimhub_command(database_url: str, *args: str) -> str:
    """Run ``python -m scimhub ARGS`` against ``database_url``; return its standard output."""
    env = {**os.environ, "SCIMHUB_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "scimhub", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"scimhub {' '.join(args)} failed: {done.stderr}")
    return done.stdout
