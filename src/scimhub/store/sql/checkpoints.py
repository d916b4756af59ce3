"""SQLite's WAL checkpoints, in a thread of their own rather than in a writer's commit (ADR 0055).

By default SQLite checkpoints inside the ``COMMIT`` that takes the WAL past 1,000 pages: that
commit copies the pages into the database file and syncs it, milliseconds in which its caller
waits. When the caller is the event loop (ADR 0055), every request waits. Here a thread
checkpoints soon after writes instead (``PRAGMA wal_checkpoint(PASSIVE)``: it takes no lock that
readers or writers wait on, and SQLite's driver lets go of the GIL while it runs). A commit
checkpoints only past ``SQLITE_COMMIT_CHECKPOINT_PAGES`` (10,000 pages, not SQLite's 1,000, ADR
0077): SQLite's own checkpoint stays on as the net under this one, for when the thread cannot keep
up or cannot open the database.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger("scimhub.store")

PAUSE_SECONDS = 0.05
"""The least time between two checkpoints: under a flood of writes, one every 50 ms copies a few
hundred pages each time, below the 1,000 at which a commit would checkpoint itself."""


class Checkpointer:
    """Checkpoint an engine's SQLite database in a daemon thread, soon after each write."""

    def __init__(self, engine: Engine, pause: float = PAUSE_SECONDS) -> None:
        self._engine, self._pause = engine, pause
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.runs = 0
        """How many checkpoints ran (for tests and the curious)."""

    def wrote(self) -> None:
        """Say that a write committed: a checkpoint follows soon, in the thread (started on first use)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(target=self._run, name="scimhub-checkpoints", daemon=True)
                    self._thread.start()
        self._due.set()

    def close(self) -> None:
        """Stop the thread, after the checkpoint it may be running."""
        self._stopping.set()
        self._due.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        # A connection of its own, outside the pool: the pool's count is of the requests' connections.
        dialect = self._engine.dialect
        args, options = dialect.create_connect_args(self._engine.url)
        try:
            connection = dialect.connect(*args, **options)
        except Exception:  # noqa: BLE001 - as below: the commits checkpoint, as SQLite does by default
            log.exception("cannot open the database to checkpoint it; commits will checkpoint it themselves")
            return
        try:
            while self._due.wait() and not self._stopping.is_set():
                self._due.clear()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except Exception:  # noqa: BLE001 - the commits' own checkpoints still run: say so, go on
                    log.exception("checkpointing the WAL failed; commits will checkpoint it themselves")
                self._stopping.wait(self._pause)
        finally:
            connection.close()
