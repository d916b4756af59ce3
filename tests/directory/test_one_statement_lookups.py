"""A lookup is one statement, its user's groups included, run without a transaction (ADR 0057)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event

from scimhub import wiring
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query
from scimhub.query.schema import GROUP, USER
from scimhub.settings import Settings
from scimhub.store.sql.engine import make_engine
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, list[str]]]:
    """Yield services on SQLite and the list every statement any of their connections runs goes to."""
    statements: list[str] = []

    def traced_engine(url: str, **options: Any) -> Engine:
        engine = make_engine(url, **options)
        event.listen(engine, "connect", lambda driver, _: driver.set_trace_callback(statements.append))
        return engine

    monkeypatch.setattr(wiring, "make_engine", traced_engine)
    hub = wiring.build(Settings(database_url=f"sqlite:///{tmp_path / 'traced.db'}"))
    yield hub, statements
    hub.close()


def run(statements: list[str]) -> list[str]:
    """Return the statements run, but for the pragmas the store sets on a connection it opens."""
    return [s.split()[0].upper() for s in statements if not s.upper().startswith("PRAGMA")]


def test_a_user_lookup_is_one_select_groups_included(traced: tuple[Services, list[str]]) -> None:
    """``userName eq`` with the groups: one SELECT, no BEGIN or COMMIT; the page as before."""
    hub, statements = traced
    user = add_user(hub, "bjensen@example.com")
    add_group(hub, "readers", user)
    statements.clear()
    page = hub.users.search(Query(parse_filter(USER, 'userName eq "BJensen@example.com"')), with_groups=True)
    assert run(statements) == ["SELECT"]
    assert page.total == 1
    assert page.items[0].groups is not None and [g.display_name for g in page.items[0].groups] == ["readers"]
    statements.clear()
    # ``count=1`` (a full page) still needs no count: no other user can match.
    page = hub.users.search(Query(parse_filter(USER, 'userName eq "bjensen@example.com"'), limit=1))
    assert run(statements) == ["SELECT"] and page.total == 1


def test_a_user_by_id_or_by_name_is_that_lookup(traced: tuple[Services, list[str]]) -> None:
    """``GET /Users/{id}`` and the CLI's find by userName: one SELECT each, groups included."""
    hub, statements = traced
    user = add_user(hub, "bjensen")
    group = add_group(hub, "readers", user)
    for found in (
        lambda: hub.users.get(user.id, with_groups=True),
        lambda: hub.users.find("BJENSEN", with_groups=True),
    ):
        statements.clear()
        view = found()
        assert run(statements) == ["SELECT"]
        assert view.user == user and [g.id for g in view.groups or []] == [group.id]


def test_a_group_lookup_without_members_is_one_select(traced: tuple[Services, list[str]]) -> None:
    """``displayName eq``, members left out, as Entra asks: one SELECT."""
    hub, statements = traced
    add_group(hub, "Readers")
    statements.clear()
    page = hub.groups.search(Query(parse_filter(GROUP, 'displayName eq "readers"')))
    assert run(statements) == ["SELECT"] and page.total == 1


def test_another_search_is_read_in_one_snapshot(traced: tuple[Services, list[str]]) -> None:
    """A search that may match more than one user begins a transaction: its page and count agree."""
    hub, statements = traced
    add_user(hub, "a", title="t")
    add_user(hub, "b", title="t")
    statements.clear()
    page = hub.users.search(Query(parse_filter(USER, 'title eq "t"'), limit=1), with_groups=True)
    assert page.total == 2
    assert run(statements) == ["BEGIN", "SELECT", "SELECT", "COMMIT"]  # the page, then the count


def in_transaction(connection: Connection) -> bool:
    """Tell whether the driver's connection under ``connection`` has a transaction open."""
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return driver.in_transaction
    assert driver is not None
    return bool(driver.info.transaction_status != TransactionStatus.IDLE)


def test_a_lookup_read_opens_no_transaction(hub: Services) -> None:
    """On both engines: the lone statement's connection runs it by itself; a read's opens a snapshot."""
    add_user(hub, "bjensen")
    lookup = Query(parse_filter(USER, 'userName eq "bjensen"'))
    for one_statement in (True, False):
        with hub.store.read(one_statement=one_statement) as tx:
            assert tx.users.search(lookup, with_groups=True).total == 1
            assert in_transaction(tx.connection) is not one_statement
