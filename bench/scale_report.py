"""What bench/scale.py prints: per backend, the generation, the figures, the ratios, memory, the targets."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from bulk import ScaleData
from load import Outcome
from report import OTHER_WORK_WARNING
from servers import Spent

MB = 1_000_000
TARGETS = {
    "lookup_p99_ms": 5.0,
    "deep_paging_p99_ms": 50.0,
    "rss_mb": 300.0,
    "member_ratio": 1.5,
}
"""Issue 5's targets at 1,000,000 users."""


@dataclass
class Figure:
    """One measured scenario."""

    name: str
    clients: int
    outcome: Outcome
    spent: Spent
    server_seconds: list[float]
    """The server's own duration of each measured request (its access log)."""
    group_size: int | None = None

    def server_percentile(self, p: float) -> float:
        """Return the ``p``-th percentile of the server's own durations, in seconds."""
        return Outcome(self.server_seconds, 0.0, 0.0).percentile(p)

    def cpu_ms(self, seconds: float) -> float:
        """Return ``seconds`` of CPU per answered request, in milliseconds."""
        return seconds / max(self.outcome.count, 1) * 1e3


@dataclass
class FullRead:
    """One read of the large group with every member."""

    seconds: float
    server_seconds: float
    body_bytes: int
    errors: int
    rss_before: int
    rss_after: int
    peak_after: int


@dataclass
class BackendRun:
    """Everything measured on one backend."""

    backend: str
    data: ScaleData
    settle_seconds: float
    database_bytes: int
    checks: list[str]
    figures: list[Figure] = field(default_factory=list)
    full_reads: list[FullRead] = field(default_factory=list)
    memory: dict[str, tuple[int, int]] = field(default_factory=dict)
    """VmRSS and VmHWM of the server, in bytes, at named moments."""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _find(run: BackendRun, prefix: str, clients: int = 1, size: int | None = None) -> Figure | None:
    return next(
        (
            f
            for f in run.figures
            if f.name.startswith(prefix) and f.clients == clients and (size is None or f.group_size == size)
        ),
        None,
    )


def backend_report(run: BackendRun) -> str:
    """Return the Markdown section of one backend."""
    data = run.data
    generated = ", ".join(f"{step} {s:.1f} s" for step, s in data.seconds.items())
    lines = [
        f"### {run.backend}: {data.users:,} users, groups of {data.small_size} and {data.large_size:,}",
        "",
        f"Generation (bench/bulk.py): {generated}; total {sum(data.seconds.values()):.1f} s"
        + (f"; VACUUM ANALYZE {run.settle_seconds:.1f} s" if run.backend == "postgresql" else "")
        + f". Database: {run.database_bytes / 1024**3:.2f} GiB. Events are generated too (one per user"
        " created, one per member added).",
        "",
        "Checked against the server (bench/fidelity.py): " + "; ".join(run.checks) + ".",
        "",
        _row(["scenario", "clients", "requests", "p50 ms", "p99 ms", "server p50 ms", "server p99 ms"])
        + " server CPU ms/req | PostgreSQL CPU ms/req | other processes, cores | errors |",
        _row(["---", *["---:"] * 10]),
    ]
    for f in run.figures:
        o = f.outcome
        lines.append(
            _row(
                [
                    f.name,
                    f.clients,
                    f"{o.count:,}" + (" (time limit)" if o.stopped_early else ""),
                    _ms(o.percentile(50)),
                    _ms(o.percentile(99)),
                    _ms(f.server_percentile(50)),
                    _ms(f.server_percentile(99)),
                    f"{f.cpu_ms(f.spent.server):.2f}",
                    "in-process" if run.backend == "sqlite" else f"{f.cpu_ms(f.spent.database):.2f}",
                    f"{f.spent.other / o.elapsed:.2f}" if o.elapsed else "",
                    o.errors,
                ]
            )
        )
    busiest = max((f.spent.other / f.outcome.elapsed for f in run.figures if f.outcome.elapsed), default=0.0)
    if busiest > OTHER_WORK_WARNING:
        lines += [
            "",
            f"**Warning:** other processes took up to {busiest:.2f} of the {os.cpu_count()} cores during a "
            "measured run: latencies (p99 most) are not clean; server CPU per request is the steadiest.",
        ]
    lines += ["", f"Member changes, group of {data.large_size:,} ÷ group of {data.small_size}:", ""]
    for clients in sorted({f.clients for f in run.figures}):
        for op in ("add", "remove"):
            small = _find(run, f"PATCH {op}", clients, data.small_size)
            large = _find(run, f"PATCH {op}", clients, data.large_size)
            if small and large:
                p99, p50 = (large.outcome.percentile(p) / small.outcome.percentile(p) for p in (99, 50))
                server = large.server_percentile(99) / small.server_percentile(99)
                cpu = large.cpu_ms(large.spent.server) / small.cpu_ms(small.spent.server)
                lines.append(
                    f"- {op}, {clients} client(s): p99 {p99:.2f}×, p50 {p50:.2f}×, server p99 {server:.2f}×, "
                    f"server CPU per request {cpu:.2f}×"
                )
    lines += [
        "",
        f"Reading the group of {data.large_size:,} with every member (`GET /Groups/<id>`, one client):",
        "",
        _row(
            ["read", "time s", "server time s", "bytes", "RSS before MB", "RSS after MB", "peak RSS after MB"]
        ),
        _row(["---:", *["---:"] * 6]),
    ]
    for i, r in enumerate(run.full_reads, 1):
        lines.append(
            _row(
                [
                    i,
                    f"{r.seconds:.2f}",
                    f"{r.server_seconds:.2f}",
                    f"{r.body_bytes:,}",
                    f"{r.rss_before / MB:.0f}",
                    f"{r.rss_after / MB:.0f}",
                    f"{r.peak_after / MB:.0f}",
                ]
            )
        )
    lines += ["", "Server memory (VmRSS, peak VmHWM):", ""]
    lines += [
        f"- {moment}: {rss / MB:.0f} MB, peak {peak / MB:.0f} MB"
        for moment, (rss, peak) in run.memory.items()
    ]
    lines += ["", *_targets(run)]
    return "\n".join(lines) + "\n"


def _targets(run: BackendRun) -> list[str]:
    """Return issue 5's targets against this run's figures (one client)."""
    rows = [_row(["target (issue 5, at 1,000,000 users)", "measured", "met"]), _row(["---", "---:", "---"])]

    def add(target: str, value: float | None, limit: float, unit: str) -> None:
        if value is not None:
            rows.append(_row([target, f"{value:.2f} {unit}".strip(), "yes" if value <= limit else "**no**"]))

    lookup = _find(run, "GET userName eq")
    deep = next((f for f in run.figures if f.name.endswith("(deep)") and f.clients == 1), None)
    add(
        "`userName eq` p99, server time < 5 ms",
        lookup and lookup.server_percentile(99) * 1e3,
        TARGETS["lookup_p99_ms"],
        "ms",
    )
    add(
        "`userName eq` p99, client < 5 ms",
        lookup and lookup.outcome.percentile(99) * 1e3,
        TARGETS["lookup_p99_ms"],
        "ms",
    )
    add(
        "deep paging p99, client < 50 ms",
        deep and deep.outcome.percentile(99) * 1e3,
        TARGETS["deep_paging_p99_ms"],
        "ms",
    )
    add(
        "deep paging p99, server time < 50 ms",
        deep and deep.server_percentile(99) * 1e3,
        TARGETS["deep_paging_p99_ms"],
        "ms",
    )
    peak = max((p for _, p in run.memory.values()), default=0)
    add("server peak RSS (VmHWM) over the run < 300 MB", peak / MB, TARGETS["rss_mb"], "MB")
    end = run.memory.get("at the end", (0, 0))[0]
    add("server RSS at the end < 300 MB", end / MB, TARGETS["rss_mb"], "MB")
    for op in ("add", "remove"):
        small = _find(run, f"PATCH {op}", 1, run.data.small_size)
        large = _find(run, f"PATCH {op}", 1, run.data.large_size)
        if small and large:
            ratio = large.outcome.percentile(99) / small.outcome.percentile(99)
            add(
                f"member {op} p99, {run.data.large_size:,} ÷ {run.data.small_size} members ≤ 1.5",
                ratio,
                TARGETS["member_ratio"],
                "×",
            )
    if run.data.users != 1_000_000:
        rows.append(f"\n(The targets are for 1,000,000 users; this run had {run.data.users:,}.)")
    return rows


def raw_figures(
    command: str, machine: dict[str, str], sizes: dict[str, Any], runs: list[BackendRun]
) -> dict[str, Any]:
    return {
        "command": command,
        "machine": machine,
        "sizes": sizes,
        "runs": [
            {
                "backend": r.backend,
                "users": r.data.users,
                "groups": [r.data.small_size, r.data.large_size],
                "generation_s": r.data.seconds,
                "settle_s": r.settle_seconds,
                "database_bytes": r.database_bytes,
                "checks": r.checks,
                "memory_bytes": r.memory,
                "full_reads": [asdict(f) for f in r.full_reads],
                "figures": [
                    {
                        "name": f.name,
                        "clients": f.clients,
                        "group_size": f.group_size,
                        "requests": f.outcome.count,
                        "errors": f.outcome.errors,
                        "stopped_early": f.outcome.stopped_early,
                        "p50_s": f.outcome.percentile(50),
                        "p99_s": f.outcome.percentile(99),
                        "server_p50_s": f.server_percentile(50),
                        "server_p99_s": f.server_percentile(99),
                        "server_cpu_s": f.spent.server,
                        "database_cpu_s": f.spent.database,
                        "other_cpu_s": f.spent.other,
                        "elapsed_s": f.outcome.elapsed,
                    }
                    for f in r.figures
                ],
            }
            for r in runs
        ],
    }
