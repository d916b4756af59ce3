"""A lean HTTP/1.1 load client: N keep-alive connections on one uvloop event loop.

Why not httpx: on this machine an ``httpx.AsyncClient`` spends more CPU per
request (≈1 ms) than the bare Starlette floor spends serving one, so the floor
would measure the client. Here every request is encoded before the clock
starts and each response is parsed by httptools (the parser uvicorn uses), so
the client costs a few tens of microseconds per request.

Each connection takes the next request from a shared list, sends it, waits for
the whole response and records the latency: at most ``concurrency`` requests
are in flight (a closed loop, like Entra's provisioning workers).

``run_scripts`` drives the same connections with *scripts* instead: generators
that yield one request at a time and are sent each answer back, so that a
request can use an earlier answer (the id a POST returned, for the PATCHes
that follow). Each connection runs one script to its end, then takes the next.
Scripts are built before the clock starts, with their bodies already
serialized; during the run only the request head is joined.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
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
    expect: int | frozenset[int] = 200
    """The status a correct answer has, or the statuses where RFC 7644 allows several; others are errors."""
    label: str = ""
    """The kind of request, which reports group figures by (``run_scripts``)."""

    def accepts(self, status: int) -> bool:
        """Tell whether an answer with this status is a correct one."""
        return status == self.expect if isinstance(self.expect, int) else status in self.expect


Answer = tuple[int, bytes]
"""The status and the body of a response, as a script is sent it."""

Script = Generator[Request, Answer, None]
"""Requests sent one after the other on one connection, each answer sent back into the script."""


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
    """The time limit ended the run before every request (or script) was sent."""
    labels: list[str] = field(default_factory=list)
    """The label of each answered request, in the order of ``latencies`` (``run_scripts`` only)."""
    error_labels: list[str] = field(default_factory=list)
    """The label of each wrong answer (``run_scripts`` only)."""

    @property
    def count(self) -> int:
        """Return the number of requests answered."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Return answered requests per second."""
        return self.count / self.elapsed if self.elapsed else 0.0

    def by_label(self) -> dict[str, Outcome]:
        """Return the figures of each kind of request, in the order the kinds were first answered.

        Each part keeps the whole run's ``elapsed``: its own throughput means nothing.
        """
        parts: dict[str, Outcome] = {}
        for label, latency in zip(self.labels, self.latencies, strict=True):
            parts.setdefault(label, Outcome([], self.elapsed, 0.0)).latencies.append(latency)
        for label in self.error_labels:
            parts[label].errors += 1
        return parts

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
        self.keep_alive = True
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

    def on_headers_complete(self) -> None:
        # Read here: once the message is complete, llhttp has reset the flags this depends on,
        # and should_keep_alive() answers False for every response that had a body.
        self.keep_alive = self.parser.should_keep_alive()

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
        return self.parser.get_status_code(), b"".join(self.body), self.keep_alive


async def _connect(host: str, port: int) -> _Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    return protocol


async def _drive(
    url: str,
    connections: int,
    time_limit: float,
    work: Callable[[_Connection, float], Awaitable[None]],
) -> tuple[float, float]:
    """Open ``connections``, run ``work(connection, deadline)`` on each; return wall time and client CPU.

    The connections are opened before the clock starts; ``work`` owns its
    connection and closes it.
    """
    parts = urlsplit(url)
    opened = [await _connect(parts.hostname or "127.0.0.1", parts.port or 80) for _ in range(connections)]
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(work(connection, started + time_limit) for connection in opened))
    return time.perf_counter() - started, time.process_time() - cpu


async def _reopen(url: str, closing: _Connection) -> _Connection:
    """Close a connection the server is closing (``Connection: close``); return a new one."""
    if closing.transport is not None:
        closing.transport.close()
    parts = urlsplit(url)
    return await _connect(parts.hostname or "127.0.0.1", parts.port or 80)


async def _run(
    url: str,
    requests: list[Request],
    token: str | None,
    concurrency: int,
    time_limit: float,
    keep_bodies: bool,
) -> Outcome:
    netloc = urlsplit(url).netloc
    encoded = [_encode(r, netloc, token) for r in requests]
    outcome = Outcome([], 0.0, 0.0)
    next_index = 0

    async def work(connection: _Connection, deadline: float) -> None:
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
                if not requests[index].accepts(status):
                    outcome.errors += 1
                    if len(outcome.error_samples) < 5:
                        sample = body[:300].decode(errors="replace")
                        outcome.error_samples.append(
                            f"{requests[index].method} {requests[index].path}: {status} {sample}"
                        )
                if keep_bodies:
                    outcome.bodies[index] = body
                if not keep_alive:
                    connection = await _reopen(url, connection)
        finally:
            if connection.transport is not None:
                connection.transport.close()

    connections = min(concurrency, len(encoded))
    outcome.elapsed, outcome.client_cpu = await _drive(url, connections, time_limit, work)
    return outcome


ERROR_SAMPLES_PER_LABEL = 3
"""Wrong answers kept, with the start of their body, for each kind of request (``run_scripts``)."""


async def _run_scripts(
    url: str, scripts: Iterable[Script], token: str | None, concurrency: int, time_limit: float
) -> Outcome:
    netloc = urlsplit(url).netloc
    pending = iter(scripts)
    outcome = Outcome([], 0.0, 0.0)
    sampled: dict[str, int] = {}

    def record(request: Request, status: int, body: bytes, latency: float) -> None:
        outcome.latencies.append(latency)
        outcome.labels.append(request.label)
        if request.accepts(status):
            return
        outcome.errors += 1
        outcome.error_labels.append(request.label)
        if sampled.get(request.label, 0) < ERROR_SAMPLES_PER_LABEL:
            sampled[request.label] = sampled.get(request.label, 0) + 1
            sample = body[:300].decode(errors="replace")
            outcome.error_samples.append(
                f"[{request.label}] {request.method} {request.path[:100]} → {status} {sample}"
            )

    async def work(connection: _Connection, deadline: float) -> None:
        try:
            # One event loop: no other connection runs between the deadline check and taking a script.
            for script in pending:
                if time.perf_counter() > deadline:
                    outcome.stopped_early = True
                    return
                request = next(script, None)
                while request is not None:
                    sent = time.perf_counter()
                    status, body, keep_alive = await connection.exchange(_encode(request, netloc, token))
                    record(request, status, body, time.perf_counter() - sent)
                    if not keep_alive:
                        connection = await _reopen(url, connection)
                    try:
                        request = script.send((status, body))
                    except StopIteration:
                        request = None
        finally:
            if connection.transport is not None:
                connection.transport.close()

    outcome.elapsed, outcome.client_cpu = await _drive(url, concurrency, time_limit, work)
    return outcome


def run_scripts(
    url: str,
    scripts: Iterable[Script],
    *,
    token: str | None = None,
    concurrency: int = 8,
    time_limit: float = 60.0,
) -> Outcome:
    """Run ``scripts`` against ``url``, ``concurrency`` at a time; start none after ``time_limit`` s.

    A script started before the limit runs to its end. Every answer is sent back
    into its script, whatever its status: the script decides whether to go on.
    """
    return uvloop.run(_run_scripts(url, scripts, token, concurrency, time_limit))


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
