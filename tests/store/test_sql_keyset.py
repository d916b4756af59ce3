"""Keyset pages (ADR 0035): walked forward or backward, they list every match once, in the query's order.

On both engines, for every kind of sort: by id, by a unique key, by a column with
ties, by a document attribute that some users lack (NULLs last), both orders; the
pages joined must equal the one offset-ordered list of ``sort_order``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.directory.roles import Roles
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.roles import Role
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.store.sql.store import SqlStore
from tests.databases import migrated_engine

COUNT = 23


@pytest.fixture(scope="module")
def users(module_database_url: str) -> Iterator[Users]:
    with migrated_engine(module_database_url) as engine, closing(SqlStore(engine)) as store:
        clock = iter(range(1, 10**6)).__next__
        directory, roles = Users(store, clock), Roles(store, clock)
        for n in range(COUNT):
            doc: dict[str, Any] = {"userName": f"User{n:02d}", "active": n % 3 != 0}
            if n % 4:
                doc["displayName"] = ["Zoë", "adam", "Émile", "bob"][n % 4 - 1]  # ties, cases, accents
            if n % 5:
                doc["title"] = f"t{n % 7}"
            user = directory.create(SYSTEM, UserEdit(doc))
            if n % 2:  # half the users hold Editor: the role narrowing of the console (ADR 0044)
                roles.assign(SYSTEM, Role.EDITOR, "user", user.id)
        yield directory


def _query(path: str | None, descending: bool, **kw: Any) -> Query:
    sort_by = resolve(USER, path) if path else None
    return Query(sort_by=sort_by, descending=descending, **kw)


def _everything(users: Users, path: str | None, descending: bool, filter: str | None = None) -> list[str]:
    parsed = parse_filter(USER, filter) if filter else None
    query = Query(parsed, _query(path, descending).sort_by, descending, limit=1000)
    return [view.user.id for view in users.search(query).items]


SORTS = [
    (None, False),
    ("userName", False),
    ("userName", True),
    ("displayName", False),
    ("displayName", True),
    ("title", False),
    ("title", True),
    ("active", False),
    ("meta.created", True),
]


@pytest.mark.parametrize(("path", "descending"), SORTS)
@pytest.mark.parametrize("size", [1, 4, 7])
def test_walking_forward_lists_every_match_once_in_order(
    users: Users, path: str | None, descending: bool, size: int
) -> None:
    expected = _everything(users, path, descending)
    seen: list[str] = []
    after = None
    while True:
        page = users.search(_query(path, descending, limit=size, seek=Seek(after, count=after is None)))
        assert len(page.keys) == len(page.items) <= size
        assert page.total == (COUNT if after is None else -1)
        seen += [view.user.id for view in page.items]
        if not page.more:
            break
        after = page.keys[-1]
    assert seen == expected


@pytest.mark.parametrize(("path", "descending"), SORTS)
def test_walking_backward_from_the_end_lists_every_match_once_in_order(
    users: Users, path: str | None, descending: bool
) -> None:
    expected = _everything(users, path, descending)
    seen: list[str] = []
    before = None
    while True:
        page = users.search(_query(path, descending, limit=5, seek=Seek(before, backward=True, count=False)))
        seen = [view.user.id for view in page.items] + seen
        if not page.more:
            break
        before = page.keys[0]
    assert seen == expected


def test_the_first_page_counts_every_match_and_later_ones_do_not(users: Users) -> None:
    first = users.search(_query("userName", False, limit=5, seek=Seek(None)))
    assert first.total == COUNT and first.more
    later = users.search(_query("userName", False, limit=5, seek=Seek(first.keys[-1], count=False)))
    assert later.total == -1


def test_a_filtered_walk_keeps_to_the_filter(users: Users) -> None:
    """The keyset condition joins the filter; it never widens it."""
    filter = 'displayName eq "bob" or title pr'
    expected = _everything(users, "displayName", False, filter)
    seen, after = [], None
    while True:
        query = Query(parse_filter(USER, filter), resolve(USER, "displayName"), limit=3, seek=Seek(after))
        page = users.search(query)
        seen += [view.user.id for view in page.items]
        if not page.more:
            break
        after = page.keys[-1]
    assert seen == expected and 0 < len(seen) < COUNT


def test_a_key_of_the_wrong_length_is_refused_before_the_database(users: Users) -> None:
    with pytest.raises(ValueError, match="a sort key of 1 values was expected, not 2"):
        users.search(_query(None, False, seek=Seek(("a", "b"))))


NARROWINGS = [
    {"active": False},
    {"prefix": "user1"},
    {"role": Role.EDITOR},
    {"prefix": "user", "active": True},
]


@pytest.mark.parametrize("narrowing", NARROWINGS, ids=str)
@pytest.mark.parametrize(("path", "descending"), [(None, False), ("userName", True), ("meta.created", False)])
def test_a_console_narrowing_walks_both_ways_as_its_offset_search_lists(
    users: Users, narrowing: dict[str, Any], path: str | None, descending: bool
) -> None:
    """Status, prefix and role narrow a keyset page as they narrow an offset page (ADR 0044)."""
    expected = [v.user.id for v in users.search(_query(path, descending, limit=1000), **narrowing).items]
    forward: list[str] = []
    after = None
    while True:
        page = users.search(
            _query(path, descending, limit=2, seek=Seek(after, count=after is None)), **narrowing
        )
        assert page.total == (len(expected) if after is None else -1)
        forward += [view.user.id for view in page.items]
        if not page.more:
            break
        after = page.keys[-1]
    backward: list[str] = []
    before = None
    while True:
        page = users.search(_query(path, descending, limit=3, seek=Seek(before, True, False)), **narrowing)
        backward = [view.user.id for view in page.items] + backward
        if not page.more:
            break
        before = page.keys[0]
    assert forward == backward == expected and 0 < len(expected) < COUNT
