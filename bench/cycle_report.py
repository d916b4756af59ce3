"""What bench/entra_cycle.py prints: per backend, each phase on each server, the ratios, the errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from entra_traffic import DataSet
from load import Outcome
from report import OTHER_WORK_WARNING, milliseconds, table_row

"""Issue 5: the initial cycle of the full data set, 8 clients, on SQLite, in less than this."""
_MIB = 1024 * 1024
_SERVERS = ("scimhub", "floor", "peer")
_SHORT = 1.0
"""Seconds below which a phase is too short to tell other processes' share: /proc counts 10 ms ticks."""


@dataclass
class Phase:
    """One phase of a cycle on one server."""

    name: str
    outcome: Outcome
    server_cpu: float
    """CPU seconds the server (all its processes) spent during the phase."""
    database_cpu: float | None
    """CPU seconds PostgreSQL's backends spent (None where the storage is in-process)."""
    other_cpu: float
    """CPU seconds the machine spent on anything but client, server and database during the phase."""
    rss: int
    """The server's resident memory, in bytes, when the phase ended."""


@dataclass
class Cycle:
    """A whole cycle on one server."""

    server: str
    phases: list[Phase]
    peak_rss: int
    """The server's peak resident memory, in bytes, over the whole cycle."""

    def total(self) -> Outcome:
        """Return the phases as one run: all their answers, their wall times added."""
        whole = Outcome([], sum(p.outcome.elapsed for p in self.phases), 0.0)
        for phase in self.phases:
            whole.latencies += phase.outcome.latencies
            whole.errors += phase.outcome.errors
        return whole


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.3f}" if theirs else "–"


def _phase_rows(name: str, cycles: dict[str, Cycle]) -> list[str]:
    rows = []
    for server in (s for s in _SERVERS if s in cycles):
        cycle = cycles[server]
        phases = cycle.phases if name == "whole cycle" else [p for p in cycle.phases if p.name == name]
        o = cycle.total() if name == "whole cycle" else phases[0].outcome
        cpu = sum(p.server_cpu for p in phases)
        database = [p.database_cpu for p in phases if p.database_cpu is not None]
        client = sum(p.outcome.client_cpu for p in phases)
        rows.append(
            table_row(
                [
                    name,
                    server,
                    f"{o.count:,}"
                    + (" (time limit)" if any(p.outcome.stopped_early for p in phases) else ""),
                    f"{o.elapsed:.1f}",
                    f"{o.throughput:,.0f}",
                    milliseconds(o.percentile(50)),
                    milliseconds(o.percentile(99)),
                    f"{o.errors:,}",
                    f"{cpu / max(o.count, 1) * 1e3:.2f}",
                    f"{sum(database) / max(o.count, 1) * 1e3:.2f}" if database else "in-process",
                    f"{client / o.elapsed:.0%}" if o.elapsed else "–",
                    f"{sum(p.other_cpu for p in phases) / o.elapsed:.2f}" if o.elapsed >= _SHORT else "–",
                    f"{(phases[-1].rss if name != 'whole cycle' else cycle.peak_rss) / _MIB:,.0f}",
                ]
            )
        )
    return rows


def _outcome(cycles: dict[str, Cycle], server: str, phase: str) -> Outcome | None:
    """Return a server's figures for one phase, or for the ``whole cycle``; None without that server."""
    if server not in cycles:
        return None
    if phase == "whole cycle":
        return cycles[server].total()
    return next(p.outcome for p in cycles[server].phases if p.name == phase)


def _ratio_row(name: str, ours: Outcome, floor: Outcome, peer: Outcome | None) -> str:
    cells: list[object] = [name, _ratio(ours.throughput, floor.throughput)]
    cells.append(f"{ours.percentile(50) / floor.percentile(50):.1f}")
    if peer is None:
        return table_row([*cells, "–", "–", "–", "no peer"])
    note = f"the peer answered {peer.errors:,} of {peer.count:,} wrongly" if peer.errors else ""
    mark = " †" if peer.errors else ""
    return table_row(
        [
            *cells,
            _ratio(ours.throughput, peer.throughput) + mark,
            f"{ours.percentile(50) / peer.percentile(50):.2f}{mark}",
            f"{ours.percentile(99) / peer.percentile(99):.2f}{mark}",
            note,
        ]
    )


def _kind_rows(cycles: dict[str, Cycle]) -> list[str]:
    rows = []
    for phase in cycles["scimhub"].phases:
        kinds = {server: _kinds_of(cycles, server, phase.name) for server in _SERVERS}
        for label, ours in kinds["scimhub"].items():
            floor, peer = kinds["floor"].get(label), kinds["peer"].get(label)
            rows.append(
                table_row(
                    [
                        phase.name,
                        f"`{label}`",
                        f"{ours.count:,}",
                        milliseconds(ours.percentile(50)),
                        milliseconds(ours.percentile(99)),
                        ours.errors,
                        milliseconds(floor.percentile(50)) if floor else "–",
                        f"{peer.count:,}" if peer else "–",
                        milliseconds(peer.percentile(50)) if peer else "–",
                        milliseconds(peer.percentile(99)) if peer else "–",
                        peer.errors if peer else "–",
                    ]
                )
            )
    return rows


def _kinds_of(cycles: dict[str, Cycle], server: str, phase: str) -> dict[str, Outcome]:
    outcome = _outcome(cycles, server, phase)
    return {} if outcome is None else outcome.by_label()


def _wrong_answers(cycle: Cycle) -> list[str]:
    """Return one line per phase and kind of request a server answered wrongly, with a sample."""
    lines = []
    for phase in cycle.phases:
        for label, kind in phase.outcome.by_label().items():
            if kind.errors:
                sample = next(s for s in phase.outcome.error_samples if s.startswith(f"[{label}]"))
                lines.append(
                    f"- {phase.name}, `{label}`: {kind.errors:,} of {kind.count:,}, for example "
                    f"`{sample.removeprefix(f'[{label}] ')}`"
                )
    return lines


def _initial_seconds(cycle: Cycle) -> float:
    return sum(p.outcome.elapsed for p in cycle.phases if p.name.startswith("initial"))


def cycle_report(
    backend: str, cycles: dict[str, Cycle], data: DataSet, target: tuple[str, float] | None
) -> str:
    """Return the Markdown section of one backend; ``target``: whose limit the initial cycle has (s)."""
    names = [p.name for p in cycles["scimhub"].phases]
    initial = {server: _initial_seconds(cycle) for server, cycle in cycles.items()}
    verdict = ""
    if target is not None:
        whose, seconds = target
        met = initial["scimhub"] < seconds
        verdict = f" {whose}'s target, under {seconds:.0f} s on {backend}: **{'met' if met else 'not met'}**."
    lines = [
        f"### {backend}",
        "",
        f"Data set: {data.users:,} users, {data.groups:,} groups, {data.memberships:,} memberships "
        f"({data.batch} members per PATCH); incremental cycle: {data.changed_users:,} users changed, "
        f"{data.deactivated_users:,} deactivated, {data.changed_groups:,} groups gaining and losing "
        f"{data.member_changes} members each. Groups are created with the {data.group_body} body.",
        "",
        "Initial cycle (users, then groups and members): "
        + ", ".join(f"{server} {seconds:.1f} s" for server, seconds in initial.items())
        + "."
        + verdict,
        "",
        table_row(["phase", "server", "requests", "wall s", "req/s", "p50 ms", "p99 ms", "errors"])
        + " server CPU ms/req | PostgreSQL CPU ms/req | client CPU | other processes, cores | RSS MiB |",
        table_row(["---", "---", *["---:"] * 11]),
    ]
    for name in [*names, "whole cycle"]:
        lines += _phase_rows(name, cycles)
    lines += [
        "",
        "RSS is the server's resident memory when the phase ended (whole cycle: its peak).",
        "",
        table_row(
            ["phase", "req/s ÷ floor", "p50 ÷ floor", "req/s ÷ peer", "p50 ÷ peer", "p99 ÷ peer", "note"]
        ),
        table_row(["---", "---:", "---:", "---:", "---:", "---:", "---"]),
    ]
    for name in [*names, "whole cycle"]:
        ours, floor = _outcome(cycles, "scimhub", name), _outcome(cycles, "floor", name)
        if ours is not None and floor is not None:
            lines.append(_ratio_row(name, ours, floor, _outcome(cycles, "peer", name)))
    if "peer" in cycles and any(p.outcome.errors for p in cycles["peer"].phases):
        lines += [
            "",
            "† The peer answered some requests wrongly (listed below), so it did other work than scimhub: "
            "a creation it refused has no PATCHes after it, a PATCH it refused changed nothing.",
        ]
    lines += [
        "",
        table_row(["phase", "request", "scimhub n", "p50 ms", "p99 ms", "errors"])
        + " floor p50 ms | peer n | peer p50 ms | peer p99 ms | peer errors |",
        table_row(["---", "---", *["---:"] * 9]),
        *_kind_rows(cycles),
    ]
    busiest = max(
        (p.other_cpu / p.outcome.elapsed for p in cycles["scimhub"].phases if p.outcome.elapsed >= _SHORT),
        default=0,
    )
    if busiest > OTHER_WORK_WARNING:
        lines += [
            "",
            f"**Warning:** other processes took up to {busiest:.2f} of the {os.cpu_count()} cores while "
            "scimhub was measured; these figures are not clean. Rerun on an idle machine.",
        ]
    for server, cycle in cycles.items():
        if wrong := _wrong_answers(cycle):
            lines += ["", f"Wrong answers from {server}:", "", *wrong]
    return "\n".join(lines) + "\n"


def raw_cycles(
    command: str, machine: dict[str, str], data: dict[str, Any], reports: dict[str, dict[str, Cycle]]
) -> dict[str, Any]:
    """Return every figure of the run as plain data, for ``--json``."""

    def figures(phase: Phase) -> dict[str, Any]:
        o = phase.outcome
        return {
            "phase": phase.name,
            "requests": o.count,
            "errors": o.errors,
            "stopped_early": o.stopped_early,
            "elapsed_s": o.elapsed,
            "rps": o.throughput,
            "p50_s": o.percentile(50),
            "p99_s": o.percentile(99),
            "server_cpu_s": phase.server_cpu,
            "database_cpu_s": phase.database_cpu,
            "client_cpu_s": o.client_cpu,
            "other_cpu_s": phase.other_cpu,
            "rss_bytes": phase.rss,
            "error_samples": o.error_samples,
        }

    return {
        "command": command,
        "machine": machine,
        "data_set": data,
        "results": {
            backend: {
                server: {"phases": [figures(p) for p in cycle.phases], "peak_rss_bytes": cycle.peak_rss}
                for server, cycle in cycles.items()
            }
            for backend, cycles in reports.items()
        },
    }
