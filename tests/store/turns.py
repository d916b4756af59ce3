"""A thread of this process inside a write transaction: what takes SQLite's write turn in tests."""

from __future__ import annotations

import threading

from scimhub.store.contract import Store


class TurnHeld(threading.Thread):
    """Another thread inside a write transaction, from ``__enter__`` until ``release`` is set."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.inside, self.release, self.committed = threading.Event(), threading.Event(), threading.Event()

    def run(self) -> None:
        with self.store.transaction():
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
