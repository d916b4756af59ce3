"""A response's head goes out with the first bytes of its body, in one write (ADR 0072).

uvicorn writes a response's status line and headers, then its body, in two writes: two system
calls and two TCP segments for nearly every response, the second costing the kernel about 5.5 µs.
``HeadWithBody`` stands between one request's ``RequestResponseCycle`` and the connection's
transport. It holds the head, the first write after the response has started, and sends it with
the next write, or on its own when the response completes without one (a ``HEAD``, a 204), or
when the connection closes. What the cycle writes before its response starts (``100 Continue``)
goes at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class HeadWithBody:
    """One request's view of the connection's transport: its response's head held for the body."""

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport, self._cycle = transport, cycle
        self._head: bytes | None = None
        self._head_seen = False

    @classmethod
    def install(cls, cycle: RequestResponseCycle) -> None:
        """Put one between ``cycle`` and its transport; send what it holds when the response completes."""
        held = cls(cycle.transport, cycle)
        # Ignore, with reason: to the cycle it is a transport, by every method the cycle calls.
        cycle.transport = held  # type: ignore[assignment]
        completed = cycle.on_response

        def on_response() -> None:
            held.flush()
            completed()

        cycle.on_response = on_response

    def write(self, data: bytes) -> None:
        """Hold the response's head; send anything else, after the head if it is held."""
        if not self._head_seen and self._cycle.response_started:
            self._head_seen = True
            self._head = bytes(data)
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def flush(self) -> None:
        """Send the head if it is still held."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        """Send what is held, then close the connection."""
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
