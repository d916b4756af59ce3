"""``lower()`` in SQL is one function on both engines, so caseExact=false filters and sorts agree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, bindparam, func, select

from scimhub.store.sql.engine import make_engine

CASES = [
    ("JSmith", "jsmith"),
    ("ΟΔΟΣ", "οδοσ"),  # each Σ alone: no word-final ς, as Python's str.lower() would write
    ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
    ("İstanbul", "istanbul"),  # U+0130's simple mapping: no combining dot
    ("Straße", "straße"),
    ("ǅ", "ǆ"),
    ("Ω", "ω"),  # OHM SIGN
    ("ẞ", "ß"),  # CAPITAL SHARP S
    ("ÉCOLE", "école"),
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The server's own engine, with the functions it registers on SQLite."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("text", "lowered"), CASES)
def test_lower_maps_each_character_alone(engine: Engine, text: str, lowered: str) -> None:
    """Both engines lower-case a text to the same string, a character at a time."""
    with engine.connect() as connection:
        assert connection.execute(select(func.lower(bindparam("text", text)))).scalar_one() == lowered
