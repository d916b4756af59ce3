"""Where the push into DataHub stands: lag, last success, last error, who pushes (ADR 0013).

Read from the database, so every process, ``/readyz`` and ``scimhub datahub
status`` tell the same story, whichever process pushes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scimhub.store.contract import Store


@dataclass(frozen=True)
class PushStatus:
    """The push's state as one read transaction sees it."""

    state: str
    """``off`` (not configured, never ran), ``starting`` (configured, never ran), ``ok`` (caught up),
    ``behind`` (catching up), ``retrying`` (the last push failed and will be retried) or ``halted``
    (the last push was refused; fix what ``last_error`` says and restart)."""
    enabled: bool
    """Whether this process is configured to push (``SCIMHUB_DATAHUB_GMS_URL``)."""
    lag: int
    """How many events the push is behind the head of the outbox."""
    checkpoint: int
    head: int
    last_success: int | None
    last_error: str | None
    last_error_at: int | None
    failures: int
    leader: str | None
    """The process holding the lease while it is valid, else None."""


def read_status(store: Store, name: str, enabled: bool, now: int) -> PushStatus:
    """Return the state of the push called ``name``."""
    with store.read() as tx:
        head = tx.events.state().head
        row = tx.push.state(name)
    if row is None:
        return PushStatus("starting" if enabled else "off", enabled, head, 0, head, None, None, None, 0, None)
    lag = max(head - row.last_seq, 0)
    if row.halted:
        state = "halted"
    elif row.failures:
        state = "retrying"
    else:
        state = "behind" if lag else "ok"
    leader = row.leader if row.leader is not None and (row.lease_until or 0) > now else None
    return PushStatus(
        state,
        enabled,
        lag,
        row.last_seq,
        head,
        row.last_success,
        row.last_error,
        row.last_error_at,
        row.failures,
        leader,
    )


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    return (
        datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def status_json(status: PushStatus) -> dict[str, Any]:
    """Return the status as JSON for ``/readyz`` and ``datahub status --json``, times in ISO 8601 UTC."""
    return {
        "state": status.state,
        "enabled": status.enabled,
        "lag": status.lag,
        "checkpoint": status.checkpoint,
        "head": status.head,
        "lastSuccess": _iso(status.last_success),
        "lastError": status.last_error,
        "lastErrorAt": _iso(status.last_error_at),
        "failures": status.failures,
        "leader": status.leader,
    }
