"""What a run prints: the machine, then per backend a table of ratios to the floor and one of costs."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import Outcome
from sqlalchemy import create_engine, text

import scimhub

OTHER_WORK_WARNING = 0.2
"""Cores other processes may take, on average during a run, before the report says it is not clean."""


@dataclass
class Result:
    """One scenario, measured on scimhub and on the floor with the same requests."""

    name: str
    clients: int
    size: int | None
    """The group's size, for member adds."""
    ours: Outcome
    floor: Outcome
    server_cpu: float
    """CPU seconds the scimhub process spent during the measured run."""
    floor_cpu: float
    database_cpu: float | None
    """CPU seconds PostgreSQL's backends spent during the measured run (None on SQLite: in-process)."""
    other_cpu: float
    """CPU seconds the machine spent on anything but client, server and database during the scimhub run."""
    floor_other_cpu: float

    @property
    def other_cores(self) -> float:
        """Return how many cores other work took, on average, while scimhub was measured."""
        return self.other_cpu / self.ours.elapsed if self.ours.elapsed else 0.0


def describe_machine(repository: Path, postgres_admin_url: str | None) -> dict[str, str]:
    """Return what the figures depend on: CPU, memory, versions, the code measured."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    machine = {
        "cpu": f"{os.cpu_count()} cores ({model}), shared by the client, the server and the database",
        "memory": f"{memory_kib / 1024 / 1024:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "scimhub": _revision(repository),
    }
    if postgres_admin_url is not None:
        engine = create_engine(postgres_admin_url)
        try:
            with engine.connect() as connection:
                version = connection.execute(text("SHOW server_version")).scalar_one()
                settings = [
                    f"{name}={connection.execute(text(f'SHOW {name}')).scalar_one()}"
                    for name in ("shared_buffers", "synchronous_commit", "fsync")
                ]
        finally:
            engine.dispose()
        machine["postgresql"] = f"{version}, same machine, {', '.join(settings)}"
    return machine


def results_header(command: str, machine: dict[str, str]) -> str:
    """Return the start of a run's Markdown results: the command, then what the figures depend on."""
    lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    return f"\n## Results\n\nCommand: `{command}`\n\n{lines}\n"


def _revision(repository: Path) -> str:
    """Tell which code was measured: the repository's commit, or the copy PYTHONPATH put first."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repository, capture_output=True, text=True).stdout.strip()

    code = Path(scimhub.__file__).resolve().parents[1]
    if code != (repository / "src").resolve():
        return f"the code at {code} (imported first through PYTHONPATH), not the repository's src/"
    commit = git("rev-parse", "--short", "HEAD")
    if not commit:  # e.g. a `git archive` of a commit, benchmarks and code together
        return f"the code at {code}, not a git checkout: name its commit with the figures"
    dirty = git("status", "--porcelain", "--", "src")
    return f"commit {commit}" + (" with uncommitted changes in src/" if dirty else "")


def milliseconds(seconds: float) -> str:
    """Return a latency for a table, in milliseconds, with two decimals below 10 ms and one above."""
    return f"{seconds * 1e3:.2f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def _per_request(seconds: float | None, outcome: Outcome) -> str:
    return "in-process" if seconds is None else f"{seconds / max(outcome.count, 1) * 1e3:.2f}"


def _cpu_ratio(large: Result, small: Result) -> float:
    return (large.server_cpu / max(large.ours.count, 1)) / (small.server_cpu / max(small.ours.count, 1))


def table_row(cells: list[object]) -> str:
    """Return one row of a Markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def backend_report(backend: str, results: list[Result]) -> str:
    """Return the Markdown section of one backend: ratios to the floor, costs, member-add scaling."""
    lines = [
        f"### {backend}",
        "",
        table_row(["scenario", "clients", "requests", "req/s", "p50 ms", "p99 ms"])
        + " req/s ÷ floor | p50 ÷ floor | p99 ÷ floor | errors |",
        table_row(["---", *["---:"] * 9]),
    ]
    for r in results:
        o, f = r.ours, r.floor
        lines.append(
            table_row(
                [
                    r.name,
                    r.clients,
                    f"{o.count:,}" + (" (time limit)" if o.stopped_early else ""),
                    f"{o.throughput:,.0f}",
                    milliseconds(o.percentile(50)),
                    milliseconds(o.percentile(99)),
                    f"{o.throughput / f.throughput:.3f}",
                    f"{o.percentile(50) / f.percentile(50):.1f}",
                    f"{o.percentile(99) / f.percentile(99):.1f}",
                    o.errors,
                ]
            )
        )
    lines += [
        "",
        table_row(["scenario", "clients", "floor requests", "floor req/s", "floor p50 ms", "floor p99 ms"])
        + " scimhub CPU ms/req | PostgreSQL CPU ms/req | client CPU (scimhub, floor) |"
        + " other processes, cores (scimhub, floor) |",
        table_row(["---", *["---:"] * 9]),
    ]
    for r in results:
        o, f = r.ours, r.floor
        lines.append(
            table_row(
                [
                    r.name,
                    r.clients,
                    f"{f.count:,}",
                    f"{f.throughput:,.0f}",
                    milliseconds(f.percentile(50)),
                    milliseconds(f.percentile(99)),
                    _per_request(r.server_cpu, o),
                    _per_request(r.database_cpu, o),
                    f"{o.client_cpu / o.elapsed:.0%}, {f.client_cpu / f.elapsed:.0%}",
                    f"{r.other_cores:.2f}, {r.floor_other_cpu / f.elapsed:.2f}",
                ]
            )
        )
    busiest = max((r.other_cores for r in results), default=0.0)
    if busiest > OTHER_WORK_WARNING:
        lines += [
            "",
            f"**Warning:** other processes took up to {busiest:.2f} of the {os.cpu_count()} cores while "
            "scimhub was measured; these figures are not clean. Rerun on an idle machine.",
        ]
    lines += ["", "Member add, larger group ÷ group of 100 (same number of clients):", ""]
    for clients in sorted({r.clients for r in results if r.size}, reverse=True):
        pair = sorted((r for r in results if r.size and r.clients == clients), key=lambda r: r.size or 0)
        if len(pair) == 2:
            small, large = pair
            lines.append(
                f"- {clients} client(s), {large.size:,} ÷ {small.size:,} members: "
                f"p50 {large.ours.percentile(50) / small.ours.percentile(50):.2f}×, "
                f"p99 {large.ours.percentile(99) / small.ours.percentile(99):.2f}×, "
                f"req/s {large.ours.throughput / small.ours.throughput:.2f}×, "
                f"scimhub CPU per request {_cpu_ratio(large, small):.2f}×"
            )
    return "\n".join(lines) + "\n"


def raw_figures(
    command: str, machine: dict[str, str], sizes: dict[str, Any], reports: dict[str, list[Result]]
):  # type: ignore[no-untyped-def]
    """Return every figure of the run as plain data, for ``--json``."""
    return {
        "command": command,
        "machine": machine,
        "sizes": sizes,
        "results": {
            backend: [
                {
                    "name": r.name,
                    "clients": r.clients,
                    "group_size": r.size,
                    "requests": r.ours.count,
                    "errors": r.ours.errors,
                    "stopped_early": r.ours.stopped_early,
                    "rps": r.ours.throughput,
                    "p50_s": r.ours.percentile(50),
                    "p99_s": r.ours.percentile(99),
                    "floor_rps": r.floor.throughput,
                    "floor_p50_s": r.floor.percentile(50),
                    "floor_p99_s": r.floor.percentile(99),
                    "server_cpu_s": r.server_cpu,
                    "floor_cpu_s": r.floor_cpu,
                    "database_cpu_s": r.database_cpu,
                    "other_cpu_s": r.other_cpu,
                    "floor_other_cpu_s": r.floor_other_cpu,
                    "floor_requests": r.floor.count,
                    "client_cpu_s": r.ours.client_cpu,
                    "elapsed_s": r.ours.elapsed,
                }
                for r in results
            ]
            for backend, results in reports.items()
        },
    }
