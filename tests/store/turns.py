"""A thread of this process inside a write transaction: what takes the write lock in tests."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from scimhub.store.contract import Store
from scimhub.store.sql.events import COMMIT_ORDER_LOCK


class TurnHeld(threading.Thread):
    """Another thread inside a write transaction, from ``__enter__`` until ``release`` is set.

    On SQLite it holds the write turn; on PostgreSQL the events' commit-order lock (ADR 0011), which
    every write takes before it commits: the lock nearest to SQLite's turn.
    """

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.inside, self.release, self.committed = threading.Event(), threading.Event(), threading.Event()

    def run(self) -> None:
        with self.store.transaction() as tx:
            connection = getattr(tx, "connection", None)
            if connection is not None and connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(COMMIT_ORDER_LOCK)))
            self.inside.set()
            self.release.wait(10)
        self.committed.set()

    def __enter__(self) -> TurnHeld:
        self.start()
        assert self.inside.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.join(10)
        assert self.committed.is_set()
