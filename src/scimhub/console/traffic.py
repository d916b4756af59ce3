"""What this process saw of SCIM traffic, for the overview's Entra checklist.

The first and last SCIM request, and the 4xx and 5xx answers of the last hour in
one-minute buckets. It lives in memory (since the process started): the
checklist's durable facts (a token exists, when it was last used, the first
change a client made) come from the database.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HOUR = 60


@dataclass(frozen=True)
class TrafficSummary:
    """The SCIM traffic this process saw."""

    first: float | None
    """Seconds since the epoch."""
    last: float | None
    requests: int
    client_errors_last_hour: int
    server_errors_last_hour: int


class ScimTraffic:
    """Count SCIM answers by class, per minute, over the last hour."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.requests = 0
        self._minutes: deque[list[int]] = deque(maxlen=_HOUR)
        """[minute, 4xx, 5xx] per minute that saw an error, oldest first."""

    def record(self, status: int, now: float) -> None:
        """Count one SCIM answer with ``status`` at ``now`` (seconds since the epoch)."""
        self.first = self.first if self.first is not None else now
        self.last = now
        self.requests += 1
        if status < 400:
            return
        minute = int(now // 60)
        if not self._minutes or self._minutes[-1][0] != minute:
            self._minutes.append([minute, 0, 0])
        self._minutes[-1][1 if status < 500 else 2] += 1

    def summary(self, now: float) -> TrafficSummary:
        """Return what was seen, with the errors of the 60 minutes before ``now``."""
        recent = [m for m in self._minutes if m[0] > int(now // 60) - _HOUR]
        return TrafficSummary(
            self.first, self.last, self.requests, sum(m[1] for m in recent), sum(m[2] for m in recent)
        )


class RecordScimTraffic:
    """An ASGI middleware that records the status of every SCIM answer in a ``ScimTraffic``."""

    def __init__(self, app: ASGIApp, traffic: ScimTraffic, scim_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.traffic = traffic
        self.prefixes = scim_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; note its status when it is a SCIM one."""
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.traffic.record(message["status"], time.time())
            await send(message)

        await self.app(scope, receive, noting)
