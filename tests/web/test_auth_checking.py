"""How often a request's work runs when its credential's check refuses it (``web/auth.py``, ADR 0084, 0086).

A first run answers its credential from memory; refused (the credential changed, or the check could
not be read), the work runs again with the credential read first, each of its writes checked apart
from its own rows, and once more so. Never unchecked: refused each time, it is answered as unsettled.
The store here only records which check each run had.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from scimhub.store.contract import CredentialChanged
from scimhub.web.auth import _checking


class _Checks:
    """A store's ``checking_credentials``, and whether the run in it is refused."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.current: tuple[Any, bool] | None = None
        self.runs: list[str] = []

    @contextmanager
    def checking_credentials(self, *, fresh: bool = False) -> Iterator[Any]:
        check = SimpleNamespace(unconfirmed=False)
        self.current = (check, fresh)
        try:
            yield check
        finally:
            self.current = None

    def attempt(self) -> str:
        assert self.current is not None, "a run without a check"
        check, fresh = self.current
        self.runs.append("read first" if fresh else "from memory")
        if self.refusals:
            self.refusals -= 1
            check.unconfirmed = True
            raise CredentialChanged
        return "answered"


@pytest.mark.parametrize(
    ("refusals", "runs", "answer"),
    [
        (0, ["from memory"], "answered"),
        (1, ["from memory", "read first"], "answered"),
        (2, ["from memory", "read first", "read first"], "answered"),
        (3, ["from memory", "read first", "read first"], "unsettled"),
    ],
)
def test_a_refused_run_runs_again_read_first_and_checked_never_unchecked(
    refusals: int, runs: list[str], answer: str
) -> None:
    checks = _Checks(refusals)
    assert _checking(checks, checks.attempt, lambda: "unsettled") == answer  # type: ignore[arg-type]
    assert checks.runs == runs
