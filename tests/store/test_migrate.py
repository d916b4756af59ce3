"""Several processes starting at once on one PostgreSQL migrate it once (the advisory lock in env.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack

from sqlalchemy import text

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from tests.integration.conftest import stop_server


def test_concurrent_upgrades_of_a_fresh_postgresql_database_all_succeed(fresh_postgres: str) -> None:
    """Four `scimhub db upgrade` at once: one migrates while the others wait, and all exit 0 at head."""
    env = {**os.environ, "SCIMHUB_DATABASE_URL": fresh_postgres}
    with ExitStack() as stack:  # on a timeout, every process is stopped and reaped
        upgrades = [
            subprocess.Popen(
                [sys.executable, "-m", "scimhub", "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(4)
        ]
        for process in upgrades:
            stack.callback(stop_server, process)
        outputs = [process.communicate(timeout=120)[0] for process in upgrades]
    assert [process.returncode for process in upgrades] == [0] * 4, outputs
    engine = make_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert tuple(versions) == migrate.revisions(engine).head
        assert migrate.revisions(engine).behind == 0
    finally:
        engine.dispose()
