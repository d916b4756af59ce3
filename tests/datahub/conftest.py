"""A stand-in GMS per test, and services on a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.datahub.gms import StandInGms
from tests.directory.conftest import hub  # noqa: F401 - the fixture, for the tests here


@pytest.fixture
def gms() -> Iterator[StandInGms]:
    """Yield a stand-in GMS that takes the token ``gms-token``."""
    server = StandInGms()
    yield server
    server.close()
