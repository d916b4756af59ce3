"""The composition root: how many threads run the core (ADR 0016)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.util.concurrency import in_greenlet

from scimhub.settings import Settings
from scimhub.wiring import build


@pytest.mark.parametrize(("threads", "expected"), [(None, {"sqlite": 1, "postgresql": 4}), (3, None)])
def test_the_core_runs_on_one_thread_on_sqlite_four_on_postgresql_unless_configured(
    database_url: str, threads: int | None, expected: dict[str, int] | None
) -> None:
    """SQLite queries never wait on a network, so one thread contends least for the GIL;
    PostgreSQL's round trips are overlapped by four. SCIMHUB_THREADS overrides both."""
    services = build(Settings(database_url=database_url, threads=threads))
    try:
        backend = services.engine.dialect.name
        assert _threads_of(services.core, expected[backend] if expected else threads) == (
            expected[backend] if expected else threads
        )
    finally:
        services.close()


def _threads_of(core: ThreadPoolExecutor, size: int) -> int:
    """Return how many threads run ``2 * size`` tasks that meet ``size`` at a time at a barrier.

    A pool of fewer threads never fills the barrier (BrokenBarrierError); a pool of more starts
    a new thread for each task submitted while all others wait, so it shows more names.
    """
    barrier = threading.Barrier(size, timeout=60)

    def meet() -> str:
        barrier.wait()
        return threading.current_thread().name

    return len({future.result() for future in [core.submit(meet) for _ in range(2 * size)]})


@pytest.mark.parametrize("workers", [1, 2])
def test_only_a_lone_postgresql_process_interleaves_its_waits(database_url: str, workers: int) -> None:
    """ADR 0066: one process overlaps its own requests' waits for PostgreSQL; several overlap each
    other's, and a worker knows it is one of several by SCIMHUB_WORKERS (set by ``scimhub serve``)."""
    services = build(Settings(database_url=database_url, workers=workers))
    try:

        async def in_a_greenlet() -> bool:
            return await services.store.cooperate(in_greenlet)

        postgresql = services.engine.dialect.name == "postgresql"
        assert asyncio.run(in_a_greenlet()) is (postgresql and workers == 1)
    finally:
        services.close()


@pytest.mark.parametrize("seconds", [None, 7.5, 0])
def test_the_servers_postgresql_connections_give_up_on_a_silent_server(
    database_url: str, seconds: float | None
) -> None:
    """ADR 0090: every connection of the server's, once migrated, waits ``SCIMHUB_DATABASE_ANSWER_SECONDS``
    of silence at most (60 by default; 0: for ever); SQLite has no server to wait for."""
    configured = {} if seconds is None else {"database_answer_seconds": seconds}
    services = build(Settings(database_url=database_url, **configured))
    try:
        with services.engine.connect() as connection:
            bound = getattr(connection.connection.driver_connection, "answer_within", None)
        expected = {None: 60.0, 7.5: 7.5, 0: None}[seconds]
        assert bound == (expected if services.engine.dialect.name == "postgresql" else None)
    finally:
        services.close()
