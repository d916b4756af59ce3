"""The push inside ``scimhub serve``: one background thread per process, from start-up to shutdown.

Every server process runs one; the lease lets one of them push and keeps the
others standing by, ready to take over (ADR 0013). The thread works in the
same synchronous model as the rest of the core (ADR 0003): it never touches
the event loop, so a slow or unreachable GMS cannot delay a SCIM request.
"""

from __future__ import annotations

import logging
import threading

from scimhub.datahub.pusher import Pusher
from scimhub.datahub.sink import PushFailed

log = logging.getLogger("scimhub.datahub")

STOP_SECONDS = 15.0
"""How long shutdown waits for a push in flight (GMS requests time out sooner)."""


class PushWorker:
    """Run a pusher on a daemon thread; wake it at once on this process's commits."""

    def __init__(self, pusher: Pusher) -> None:
        self.pusher = pusher
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start pushing in the background."""
        self._thread = threading.Thread(target=self._run, name="datahub-push", daemon=True)
        self._thread.start()

    def wake(self, seq: int) -> None:
        """Tell the pusher events up to ``seq`` committed (a ``SqlStore`` commit listener)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop pushing: let a push in flight finish, then give the lease up for another process."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
        try:
            self.pusher.release()
        except Exception:  # noqa: BLE001 - shutting down: the lease expires on its own
            log.exception("could not give the DataHub push lease up")

    def _run(self) -> None:
        """Report the connection to DataHub, then push until stopped; a refused push ends the thread."""
        try:
            self._report_start()
            self.pusher.run(self._stop, self._wake)
        except PushFailed:
            return  # recorded and logged by the pusher; /readyz and `datahub status` show it
        except Exception:  # noqa: BLE001 - the server goes on without the push
            log.exception("the DataHub push stopped")

    def _report_start(self) -> None:
        """Log, once at start, what the configured GMS is, or what is wrong with it and what to fix."""
        try:
            log.info("DataHub push: %s", self.pusher.check())
        except PushFailed as error:
            level = logging.WARNING if error.retryable else logging.ERROR
            log.log(level, "DataHub push: %s", error.detail)
