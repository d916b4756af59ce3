"""A search's deadline (ADR 0088), on SQLite and PostgreSQL: a statement past it stops, and nothing lingers.

Five users whose titles are 60,000 ``a``s make a search of twenty 32-character ``co`` terms cost
hundreds of milliseconds; with the deadline made a millisecond, it is stopped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.errors import TooMany
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query
from scimhub.query.schema import USER
from scimhub.store.sql import deadlines
from scimhub.store.sql.store import SqlStore

COSTLY = " or ".join([f'title co "{"a" * 31}b"'] * 20)


@pytest.fixture
def users(store: SqlStore) -> Users:
    users = Users(store, iter(range(1, 1000)).__next__)
    for index in range(5):
        users.create(SYSTEM, UserEdit({"userName": f"runs{index}", "title": "a" * 60_000}))
    return users


def _search(users: Users, filter: str) -> int:
    query = Query(parse_filter(USER, filter), limit=10)
    return users.search(query).total


def test_a_search_past_its_deadline_is_too_many_and_the_store_serves_on(
    users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadlines, "SEARCH_SECONDS", 0.001)
    with pytest.raises(TooMany, match="longer than the 0.001 s a search may run"):
        _search(users, COSTLY)
    monkeypatch.setattr(deadlines, "SEARCH_SECONDS", 60.0)
    assert _search(users, COSTLY) == 0  # the same store, its connections as they were
    assert _search(users, 'title co "aaa"') == 5


def test_the_deadline_ends_with_its_search(
    users: Users, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's ``SET LOCAL`` ends with the search's transaction; SQLite's deadline with the search."""
    monkeypatch.setattr(deadlines, "SEARCH_SECONDS", 0.001)
    with pytest.raises(TooMany):
        _search(users, COSTLY)
    monkeypatch.setattr(deadlines, "SEARCH_SECONDS", 60.0)
    with store.read() as tx:
        if tx.connection.dialect.name == "postgresql":
            assert tx.connection.execute(text("SHOW statement_timeout")).scalar() == "0"
        else:  # its progress handler gone: its deadline long past, it would stop this count
            counting = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)"
            assert tx.connection.execute(text(counting + " SELECT count(*) FROM n")).scalar() == 10_000
    users.create(SYSTEM, UserEdit({"userName": "written.after"}))  # writes carry no deadline either


def test_a_lookup_carries_no_deadline(users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entra's most frequent request is one statement by an index: it pays for no deadline."""
    monkeypatch.setattr(deadlines, "SEARCH_SECONDS", 1e-9)
    assert users.find("runs3").user.user_name == "runs3"
    with pytest.raises(TooMany):
        _search(users, 'title co "zz"')


def test_a_transactions_reads_after_its_search_have_no_deadline(users: Users, store: SqlStore) -> None:
    """A group's members or counts read after a search, in its transaction, are not the search's
    (an adversarial run: a members count past the deadline was a 503 "stayed locked")."""
    with store.read() as tx:
        assert tx.users.search(Query(parse_filter(USER, 'title co "aaa"'), limit=10)).total == 5
        if tx.connection.dialect.name == "postgresql":
            assert tx.connection.execute(text("SHOW statement_timeout")).scalar() == "0"
        else:
            counting = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)"
            assert tx.connection.execute(text(counting + " SELECT count(*) FROM n")).scalar() == 10_000
