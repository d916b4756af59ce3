"""A private PostgreSQL 15 cluster in a temporary directory, on a free port, to stop and start at will.

The shared PostgreSQL on 5432 serves everyone's tests and is never restarted;
an outage is rehearsed on a cluster of one's own. ``initdb`` refuses to run as
root, so when this process is root (CI) the cluster's commands run as the
``postgres`` OS user (``runuser -u postgres --``), which then owns the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("SCIMHUB_PG_BIN", "/usr/lib/postgresql/15/bin"))
"""Where ``initdb`` and ``pg_ctl`` are (Debian's PostgreSQL 15 by default)."""


def available() -> str | None:
    """Return why a private cluster cannot be made here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"no initdb in {PG_BIN} (set SCIMHUB_PG_BIN)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """Own a PostgreSQL cluster: ``start``, ``stop`` (fast: connections are cut), ``destroy``."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._root = Path(tempfile.mkdtemp(prefix="scimhub-pg-"))
        self.data = self._root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self._root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        settings = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self._root}'\n"
            "fsync = on\nmax_connections = 100\nshared_buffers = 32MB\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self._root / "postgres.log"), "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (``fast``: roll back open transactions and cut every connection)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def freeze(self) -> None:
        """Stop every process of the cluster where it stands (SIGSTOP): its connections stay open, and
        its host's kernel acknowledges what clients send, but nothing is answered, nor accepted."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Let every process of the cluster run again (SIGCONT), a frozen one or not."""
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def _processes(self) -> list[int]:
        """The postmaster and its children, or none when the cluster does not run."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return []
        children = []
        for process in Path("/proc").glob("[0-9]*"):
            try:
                parent = int((process / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
            if parent == postmaster:
                children.append(int(process.name))
        return [postmaster, *children]

    def destroy(self) -> None:
        """Stop the cluster if it runs and remove its directory."""
        self.thaw()  # a frozen cluster would not stop
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):  # not running, or not stopping: no survivor
            for pid in self._processes():
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.destroy()
