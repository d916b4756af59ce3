"""A role's holders by creation, read from the rows that make them holders (ADR 0052).

``user_roles`` and ``group_members`` keep each user's ``created``; ``first_holders`` reads the
first rows of each range and the page is chosen among them. The oracle here is the other read:
every holder (``holding``), ordered by the database over the whole set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit, Groups
from scimhub.directory.roles import Roles
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.store.sql import migrate, searches
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.keyset import directed_terms
from scimhub.store.sql.searches import first_holders, holding
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import group_members, user_roles, users
from tests.databases import migrated_engine

ROLE = Role.EDITOR
INSTANTS = [1, 2, 2, 2, 3, 4, 4, 5, 6, 7, 7, 7, 7, 8, 9, 10, 11, 11, 12, 13, 14, 15, 16, 16]
"""When each user is created: runs of ties, so pages end inside them."""


@dataclass
class World:
    engine: Engine
    users: Users
    ids: list[str]


@pytest.fixture(scope="module")
def world(module_database_url: str) -> Iterator[World]:
    with migrated_engine(module_database_url) as engine, closing(SqlStore(engine)) as store:
        instants = iter([*INSTANTS, *range(100, 10**6)])
        clock = instants.__next__
        users, groups, roles = Users(store, clock), Groups(store, clock), Roles(store, clock)
        made = [
            users.create(SYSTEM, UserEdit({"userName": f"c{n:02d}", "active": n % 5 != 3})).id
            for n in range(len(INSTANTS))
        ]

        def group(name: str, *members: str) -> str:
            return groups.create(
                SYSTEM, GroupEdit({"displayName": name}, MemberChange(add=tuple(map(Member, members))))
            ).id

        inner = group("inner", *made[10:20])
        outer = group("outer", *made[0:12], inner)  # made[10], made[11] are in both
        group("other", *made[20:])  # no role: its members hold none through it
        roles.assign(SYSTEM, ROLE, "group", outer)
        for n in (1, 2, 15, 21, 22):
            roles.assign(SYSTEM, ROLE, "user", made[n])  # 1, 2 and 15 hold it twice
        users.update(SYSTEM, made[21], lambda u: UserEdit({**u.doc, "roles": [{"value": ROLE.value}]}))
        yield World(engine, users, made)


def _expected(world: World, descending: bool, active: bool | None) -> list[str]:
    """Every holder, ordered by the database over the whole set, as the page's own order."""
    held = users.c.id.in_(holding(ROLE))
    order = (users.c.created.desc() if descending else users.c.created, users.c.id)
    statement = select(users.c.id).where(held).order_by(*order)
    if active is not None:
        statement = statement.where(users.c.active == active)
    with world.engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def _pages(world: World, descending: bool, limit: int, active: bool | None) -> list[str]:
    """Page through by Next, then back by Previous; return the ids, checking both agree."""
    query = Query(sort_by=resolve(USER, "meta.created"), descending=descending, limit=limit)
    found: dict[bool, list[str]] = {}
    for backward in (False, True):
        ids: list[str] = []
        key = None
        while True:
            seek = Seek(key, backward=backward, count=False)
            page = world.users.search(Query(**{**query.__dict__, "seek": seek}), role=ROLE, active=active)
            items = [view.user.id for view in page.items]
            ids = ids + items if not backward else items + ids
            if not page.more:
                break
            key = page.keys[0 if backward else -1]
        found[backward] = ids
    assert found[True] == found[False]
    return found[False]


@pytest.mark.parametrize("active", [None, True, False])
@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("descending", [False, True])
def test_pages_by_creation_list_exactly_the_holders_in_order(
    world: World, descending: bool, limit: int, active: bool | None
) -> None:
    """Direct, provisioned and assigned at once, through nested groups and two groups at once,
    suspended or not, with pages ending inside runs of users created in the same microsecond."""
    expected = _expected(world, descending, active)
    assert len(expected) >= (3 if active is False else 15)
    assert _pages(world, descending, limit, active) == expected


def test_ranges_read_over_several_statements_give_the_same_pages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role given to more groups than one statement reads (``STREAMS_PER_STATEMENT``: here one)."""
    monkeypatch.setattr(searches, "STREAMS_PER_STATEMENT", 1)
    for descending in (False, True):
        assert _pages(world, descending, 3, None) == _expected(world, descending, None)


@pytest.mark.parametrize("descending", [False, True])
def test_the_read_returns_about_a_page_whatever_the_number_of_holders(world: World, descending: bool) -> None:
    """The first rows of each range, cut past the page's last creation time: not every holder."""
    query = Query(sort_by=resolve(USER, "meta.created"), descending=descending, limit=2, seek=Seek(None))
    terms = directed_terms(USER, query)
    with world.engine.connect() as connection:
        ids = first_holders(connection, ROLE, terms, None, None, 3)
    expected = _expected(world, descending, None)
    times = {world.users.get(id).user.created for id in expected[:3]}
    ties = {id for id in expected if world.users.get(id).user.created in times}
    assert set(expected[:3]) <= set(ids) <= ties


def test_the_upgrade_fills_in_the_creation_times_of_existing_rows(empty_database_url: str) -> None:
    """Rows written before the migration get their user's ``created``; a nested group's stays NULL."""
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "e9aff5af209d")
        with engine.begin() as connection:
            for id, created in (("u1", 11), ("u2", 22)):
                connection.execute(
                    text(
                        "INSERT INTO users (id, user_name, user_name_key, urn, active, doc, version, created,"
                        " last_modified) VALUES (:id, :name, :key, :urn, true, '{}', 1, :created, :modified)"
                    ),
                    {"id": id, "name": id, "key": id, "urn": id, "created": created, "modified": created},
                )
            for id in ("g1", "g2"):
                connection.execute(
                    text(
                        "INSERT INTO groups (id, display_name, display_name_key, urn, doc, version, created,"
                        " last_modified) VALUES (:id, :name, :key, :urn, '{}', 1, 5, 5)"
                    ),
                    {"id": id, "name": id, "key": id, "urn": id},
                )
            members: list[dict[str, Any]] = [
                {"group_id": "g1", "member_id": "u1", "member_type": "User"},
                {"group_id": "g1", "member_id": "u2", "member_type": "User"},
                {"group_id": "g1", "member_id": "g2", "member_type": "Group"},
            ]
            columns = "(group_id, member_id, member_type) VALUES (:group_id, :member_id, :member_type)"
            connection.execute(text(f"INSERT INTO group_members {columns}"), members)
            connection.execute(
                text("INSERT INTO user_roles (user_id, role, source) VALUES ('u2', 'Editor', 'assigned')")
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            kept = dict(
                connection.execute(select(group_members.c.member_id, group_members.c.member_created)).all()
            )
            held = connection.execute(select(user_roles.c.user_id, user_roles.c.user_created)).all()
        assert kept == {"u1": 11, "u2": 22, "g2": None}
        assert held == [("u2", 22)]
    finally:
        engine.dispose()


def test_every_write_keeps_the_creation_time(database_url: str) -> None:
    """A member added, a role provisioned and a role assigned: each row has its user's ``created``."""
    with migrated_engine(database_url) as engine, closing(SqlStore(engine)) as store:
        clock = iter(range(1000, 10**6)).__next__
        users_, groups, roles = Users(store, clock), Groups(store, clock), Roles(store, clock)
        alice = users_.create(SYSTEM, UserEdit({"userName": "alice", "roles": [{"value": "Reader"}]}))
        bob = users_.create(SYSTEM, UserEdit({"userName": "bob"}))
        nested = groups.create(SYSTEM, GroupEdit({"displayName": "nested"})).id
        team = groups.create(
            SYSTEM, GroupEdit({"displayName": "team"}, MemberChange(add=(Member(alice.id),)))
        ).id
        groups.update(
            SYSTEM,
            team,
            lambda g: GroupEdit(g.doc, MemberChange(add=(Member(bob.id), Member(nested, "Group")))),
        )
        roles.assign(SYSTEM, ROLE, "user", bob.id)
        with engine.connect() as connection:
            kept = dict(
                connection.execute(select(group_members.c.member_id, group_members.c.member_created)).all()
            )
            held = set(
                connection.execute(select(user_roles.c.user_id, user_roles.c.role, user_roles.c.user_created))
            )
        assert kept == {alice.id: alice.created, bob.id: bob.created, nested: None}
        assert held == {(alice.id, "Reader", alice.created), (bob.id, "Editor", bob.created)}
