"""What a response written in two writes costs the server against one (ADR 0072).

    .venv/bin/python bench/one_write.py [--seconds 5] [--rounds 2] [--body 1000]

Starts a bare uvloop server that answers every request with the same head and body, written as
uvicorn writes them (the head, then the body) or as one, and drives each with wrk (16 keep-alive
connections, one thread, pinned to CPU 1 with taskset), alternating. Prints, per variant, the
server's CPU per response in user and system time (from /proc), and the difference: what the
second write costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from servers import free_port

_TICKS = os.sysconf("SC_CLK_TCK")


def _serve(writes: int, port: int, body_size: int) -> None:
    import uvloop

    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\n"
        + f"content-length: {body_size}\r\n".encode()
        + b"x-request-id: 0123456789abcdef01234567\r\n\r\n"
    )
    body = b"x" * body_size

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport subclass
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if writes == 2:
                self.transport.write(head)
                self.transport.write(body)
            else:
                self.transport.write(head + body)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def _cpu(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def _run(writes: int, seconds: int, body_size: int) -> tuple[float, float, int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(writes), str(port), str(body_size)])
    try:
        time.sleep(1)
        user0, system0 = _cpu(server.pid)
        wrk = ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}/"]
        out = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
        user1, system1 = _cpu(server.pid)
    finally:
        server.terminate()
        server.wait()
    served = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    return (user1 - user0) / served * 1e6, (system1 - system0) / served * 1e6, served


def main() -> None:
    """Print µs of server CPU per response for each variant, alternated."""
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--body", type=int, default=1000, help="the body's size in bytes (a lookup's ~1,000)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    results: dict[int, list[tuple[float, float, int]]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for writes in (1, 2):
            results[writes].append(_run(writes, args.seconds, args.body))
    for writes, runs in results.items():
        for user, system, served in runs:
            cpu = f"{user:5.2f} µs user + {system:5.2f} µs system a response"
            print(f"{writes} write(s): {cpu} ({served:,} served)")
    mean = {w: sum(u + s for u, s, _ in runs) / len(runs) for w, runs in results.items()}
    print(f"the second write: {mean[2] - mean[1]:+.2f} µs of server CPU a response")


if __name__ == "__main__":
    main()
