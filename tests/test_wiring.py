"""The composition root: how many threads run the core (ADR 0016)."""

from __future__ import annotations

import pytest

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
        assert services.core._max_workers == (expected[backend] if expected else threads)
    finally:
        services.close()
