"""A lean HTTP/1.1 load client: N keep-alive connections on one uvloop event loop.

Why not httpx: on this machine an ``httpx.AsyncClient`` spends more CPU per
request (≈1 ms) than the bare Starlette floor spends serving one, so the floor
would measure the client. Here every request is encoded before the clock
starts and each response is parsed by httptools (the parser uvicorn uses), so
the client costs a few tens of microseconds per request.

Each connection takes the next request from a shared list, sends it, waits for
the whole response and records the latency: at most ``concurrency`` requests
are in flight (a closed loop, like Entra's provisioning workers).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools
import uvloop


@dataclass(frozen=True)
class Request:
    """One request of a scenario."""

    method: str
    path: str
    """Path and query string, already percent-encoded."""
    body: bytes = b""
    expect: int = 200
    """The status a correct answer has; any other counts as an error."""


@dataclass
class Outcome:
    """What one load run measured."""

    latencies: list[float]
    """Seconds per request answered, in completion order."""
    elapsed: float
    """Wall-clock seconds from the first request sent to the last answer."""
    client_cpu: float
    """CPU seconds this process spent during the run."""
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    bodies: dict[int, bytes] = field(default_factory=dict)
    """Response bodies by request index, when asked for."""
    stopped_early: bool = False
    """The time limit ended the run before every request was sent."""

    @property
    def count(self) -> int:
        """Return the number of requests answered."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Return answered requests per second."""
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """Return the ``p``-th percentile latency in seconds (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, -(-len(ordered) * p // 100))  # ceil(n·p/100), at least 1
        return ordered[int(rank) - 1]


def _encode(request: Request, host: str, token: str | None) -> bytes:
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}", "Accept: application/scim+json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/scim+json", f"Content-Length: {len(request.body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + request.body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools parses each response as its bytes arrive.

    A Protocol rather than streams: uvicorn sends a response's head and body in
    two writes, and waking a coroutine for each read would cost the client more
    than the floor costs the server.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.answered: asyncio.Future[None] | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("the server closed the connection")
        if self.answered is not None and not self.answered.done():
            self.answered.set_exception(self.lost)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.answered is not None:
            self.answered.set_result(None)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request; return the status, the body and whether the connection stays open."""
        if self.lost is not None or self.transport is None:
            raise ConnectionError(f"the connection is closed: {self.lost}")
        self.body = []
        self.answered = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        await self.answered
        return self.parser.get_status_code(), b"".join(self.body), self.parser.should_keep_alive()


async def _run(
    url: str,
    requests: list[Request],
    token: str | None,
    concurrency: int,
    time_limit: float,
    keep_bodies: bool,
) -> Outcome:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    encoded = [_encode(r, parts.netloc, token) for r in requests]
    outcome = Outcome([], 0.0, 0.0)
    next_index = 0
    deadline = 0.0
    loop = asyncio.get_running_loop()

    async def connect() -> _Connection:
        _, protocol = await loop.create_connection(_Connection, host, port)
        return protocol

    async def work(connection: _Connection) -> None:
        nonlocal next_index
        try:
            while next_index < len(encoded):
                if time.perf_counter() > deadline:
                    outcome.stopped_early = True
                    return
                index = next_index
                next_index += 1
                sent = time.perf_counter()
                status, body, keep_alive = await connection.exchange(encoded[index])
                outcome.latencies.append(time.perf_counter() - sent)
                if status != requests[index].expect:
                    outcome.errors += 1
                    if len(outcome.error_samples) < 5:
                        sample = body[:300].decode(errors="replace")
                        outcome.error_samples.append(
                            f"{requests[index].method} {requests[index].path}: {status} {sample}"
                        )
                if keep_bodies:
                    outcome.bodies[index] = body
                if not keep_alive:
                    connection = await connect()
        finally:
            if connection.transport is not None:
                connection.transport.close()

    opened = [await connect() for _ in range(min(concurrency, len(encoded)))]
    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + time_limit
    await asyncio.gather(*(work(connection) for connection in opened))
    outcome.elapsed = time.perf_counter() - started
    outcome.client_cpu = time.process_time() - cpu
    return outcome


def run_load(
    url: str,
    requests: list[Request],
    *,
    token: str | None = None,
    concurrency: int = 8,
    time_limit: float = 60.0,
    keep_bodies: bool = False,
) -> Outcome:
    """Send ``requests`` to ``url`` over ``concurrency`` connections; stop sending after ``time_limit`` s."""
    return uvloop.run(_run(url, requests, token, concurrency, time_limit, keep_bodies))
