"""Where pushed changes go: the ``DataHubSink`` protocol, its failures, and a sink for tests.

``EmitterSink`` (``emitter.py``) writes into DataHub GMS through the SDK.
``RecordingSink`` keeps what it is given, and fails when a test tells it to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from scimhub.datahub.mapping import Change


class PushFailed(Exception):
    """A push did not reach DataHub; ``detail`` says why and what to fix.

    Not a ``ScimhubError``: it never answers a request, so it has no HTTP status;
    the pusher records it and ``scimhub datahub`` prints it.
    """

    retryable = False
    """Whether the same push may succeed later with nothing changed here."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class GmsUnavailable(PushFailed):
    """GMS could not take the push now: unreachable, timed out, or a 5xx / 429. Retried with backoff."""

    retryable = True


class PushRefused(PushFailed):
    """The push cannot succeed as configured: a refused token, a URL that is not GMS, no SDK.

    Retrying would only repeat the error, so the pusher stops and reports it.
    """


class DataHubSink(Protocol):
    """A destination for full-state changes, applied in the order given."""

    def check(self) -> str:
        """Verify the destination takes pushes; return what it is, for the operator.

        :raises PushFailed: When it does not.
        """

    def push(self, changes: Sequence[Change]) -> None:
        """Apply ``changes`` in order; all of them, or raise and let the caller push them again.

        :raises PushFailed: When some did not reach the destination.
        """

    def close(self) -> None:
        """Release connections."""


class RecordingSink:
    """Keep every change pushed, in order; raise the failures a test queues, one per push."""

    def __init__(self, failures: Iterable[PushFailed | None] = ()) -> None:
        self.changes: list[Change] = []
        self.pushes = 0
        """How many pushes were attempted, failed ones included."""
        self._failures = list(failures)

    def check(self) -> str:
        """Return what this sink is."""
        return "a recording sink"

    def push(self, changes: Sequence[Change]) -> None:
        """Keep ``changes``, unless the next queued failure is an error: raise it instead."""
        self.pushes += 1
        failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            raise failure
        self.changes.extend(changes)

    def close(self) -> None:
        """Do nothing."""
