"""``scimhub serve --workers N``: worker processes that each accept on a socket of their own (ADR 0060).

uvicorn's workers share one listening socket, and whichever worker wakes first accepts every
connection waiting (uvloop accepts until the queue is empty): a burst of new connections, such as
Entra's eight or a load balancer's pool, could all land on one process and stay there, keep-alive,
while the others idled. Here each worker binds its own socket to the same address with
``SO_REUSEPORT``, and the kernel spreads new connections over them by a hash of their addresses.

The supervisor is this module's: it starts the workers, starts another when one dies, stops them
all (SIGTERM: each finishes its requests in flight within uvicorn's graceful timeout) when it is
asked to stop, and stops with them if a worker could not start at all (its application, database
or socket would fail again the same way).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

log = logging.getLogger("scimhub.serve")

APP_FACTORY = "scimhub.wiring:app_from_environ"
"""What each worker serves: the application built afresh from ``SCIMHUB_*`` in that process."""
STARTUP_FAILURE = 3
"""A worker's exit status when it could not start serving (uvicorn's own value for it)."""
STOP_GRACE_SECONDS = 5
"""How long past uvicorn's graceful timeout a stopping worker is waited for before it is killed."""


def serve_workers(count: int, options: dict[str, Any]) -> None:
    """Serve with ``count`` worker processes; ``options`` are uvicorn's (``serve.uvicorn_settings``)."""
    try:
        anchor = _claim(options["host"], options["port"])
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", options["host"], options["port"], error)
        sys.exit(1)
    options = {**options, "port": anchor.getsockname()[1]}
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no state copied from here
    workers = [_start(context, options) for _ in range(count)]
    failed = False
    try:
        while not stop.wait(0.5):
            for index, worker in enumerate(workers):
                if worker.is_alive():
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start; stopping the others", worker.pid)
                    failed = True
                    stop.set()
                    break
                if stop.is_set():  # it stopped with us (a Ctrl-C reaches the whole process group)
                    break
                log.warning("worker %d exited (status %s); starting another", worker.pid, worker.exitcode)
                workers[index] = _start(context, options)
    finally:
        _stop(workers, options.get("timeout_graceful_shutdown") or 0)
        anchor.close()
    if failed:
        sys.exit(STARTUP_FAILURE)


def _claim(host: str, port: int) -> socket.socket:
    """Return the parent's socket on the address: bound, never listening (so it gets no connections).

    It holds the port between the workers' restarts, and names it when 0 was asked for. The address
    is first bound without ``SO_REUSEPORT``, which fails if anything holds it, even the workers of
    another scimhub: two servers must not share a port without a word.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    return bound_socket(host, port)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses


def bound_socket(host: str, port: int) -> socket.socket:
    """Return a TCP socket bound to ``host``:``port`` that other sockets of ours may bind too."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _start(context: Any, options: dict[str, Any]) -> BaseProcess:
    worker = context.Process(target=_work, args=(options,), name="scimhub-worker")
    worker.start()
    return worker


def _work(options: dict[str, Any]) -> None:
    """Listen on a socket of its own and serve until told to stop: a worker's life."""
    try:
        sock = bound_socket(options["host"], options["port"])
    except OSError as error:
        log.error("worker cannot listen on %s:%s: %s", options["host"], options["port"], error)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(uvicorn.Config(APP_FACTORY, factory=True, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _stop(workers: list[BaseProcess], graceful_seconds: float) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: uvicorn stops accepting and finishes what it serves
    for worker in workers:
        worker.join(graceful_seconds + STOP_GRACE_SECONDS)
        if worker.is_alive():
            log.error("worker %d did not stop in time; killing it", worker.pid)
            worker.kill()
            worker.join()
