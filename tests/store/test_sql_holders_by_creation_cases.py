"""More cases of ADR 0052's read of a role's holders by creation, each against the counted read.

The counted read (``Seek(count=True)``) still takes every holder (``holding``) and orders them in the
database; the uncounted one reads the first rows of each range (``first_holders``). Both must list
the same users in the same order, page by page, whatever shape the role's groups and rows take.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit, Groups
from scimhub.directory.roles import Roles
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query, Seek
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import group_members, users
from tests.databases import migrated_engine

ROLE = Role.EDITOR


@dataclass
class W:
    engine: Engine
    users: Users
    groups: Groups
    roles: Roles
    ids: list[str]


def _query(descending: bool, limit: int, seek: Seek | None, **more: Any) -> Query:
    return Query(sort_by=resolve(USER, "meta.created"), descending=descending, limit=limit, seek=seek, **more)


def _counted(w: W, descending: bool, active: bool | None = None, **more: Any) -> list[str]:
    """Every holder, by the counted read (``holding``), paged through."""
    ids: list[str] = []
    key = None
    while True:
        page = w.users.search(_query(descending, 7, Seek(key, count=True), **more), role=ROLE, active=active)
        ids += [v.user.id for v in page.items]
        if not page.more:
            return ids
        key = page.keys[-1]


def _forward(w: W, descending: bool, limit: int, active: bool | None = None, **more: Any) -> list[list[str]]:
    """The uncounted pages, by Next."""
    pages: list[list[str]] = []
    key = None
    while True:
        page = w.users.search(
            _query(descending, limit, Seek(key, count=False), **more), role=ROLE, active=active
        )
        pages.append([v.user.id for v in page.items])
        if not page.more:
            return pages
        key = page.keys[-1]


@pytest.fixture
def world(database_url: str) -> Iterator[W]:
    with migrated_engine(database_url) as engine, closing(SqlStore(engine)) as store:
        clock = iter(range(1000, 10**6)).__next__
        yield W(engine, Users(store, clock), Groups(store, clock), Roles(store, clock), [])


def test_a_role_given_to_more_groups_than_one_statement_reads(world: W) -> None:
    """250 groups with the role (``STREAMS_PER_STATEMENT`` is 200), each with its own users."""
    w = world
    for n in range(250):
        members = [w.users.create(SYSTEM, UserEdit({"userName": f"u{n}-{k}"})).id for k in range(2)]
        g = w.groups.create(
            SYSTEM, GroupEdit({"displayName": f"g{n}"}, MemberChange(add=tuple(map(Member, members))))
        )
        w.roles.assign(SYSTEM, ROLE, "group", g.id)
    for descending in (False, True):
        expected = _counted(w, descending)
        assert len(expected) == 500
        assert sum(_forward(w, descending, 50), []) == expected


def test_previous_from_the_middle_gives_the_page_before(world: W) -> None:
    """Previous from any page, not only from the end: the ranges read backward from its first key."""
    w = world
    made = [
        w.users.create(SYSTEM, UserEdit({"userName": f"p{n}", "active": n % 3 != 0})).id for n in range(30)
    ]
    g = w.groups.create(
        SYSTEM, GroupEdit({"displayName": "g"}, MemberChange(add=tuple(map(Member, made[::2]))))
    )
    w.roles.assign(SYSTEM, ROLE, "group", g.id)
    for n in made[1::3]:
        w.roles.assign(SYSTEM, ROLE, "user", n)
    for descending in (False, True):
        for active in (None, True, False):
            pages, keys = [], []
            key = None
            while True:
                page = w.users.search(_query(descending, 3, Seek(key, count=False)), role=ROLE, active=active)
                pages.append([v.user.id for v in page.items])
                keys.append(page.keys)
                if not page.more:
                    break
                key = page.keys[-1]
            assert sum(pages, []) == _counted(w, descending, active)
            for n in range(1, len(pages)):
                back = w.users.search(
                    _query(descending, 3, Seek(keys[n][0], backward=True, count=False)),
                    role=ROLE,
                    active=active,
                )
                assert [v.user.id for v in back.items] == pages[n - 1]
                assert back.more == (n > 1)


def test_nesting_deeper_than_the_bound_and_cycles(world: W) -> None:
    """A chain of 10 nested groups with a user at each level, closed into a cycle."""
    w = world
    made = [w.users.create(SYSTEM, UserEdit({"userName": f"n{n}"})).id for n in range(10)]
    chain: list[str] = []
    for n in reversed(range(10)):
        add = [Member(made[n])] + ([Member(chain[-1], "Group")] if chain else [])
        chain.append(
            w.groups.create(SYSTEM, GroupEdit({"displayName": f"level{n}"}, MemberChange(add=tuple(add)))).id
        )
    top = chain[-1]
    w.roles.assign(SYSTEM, ROLE, "group", top)
    for descending in (False, True):
        assert sum(_forward(w, descending, 2), []) == _counted(w, descending)
    w.groups.update(SYSTEM, chain[0], lambda g: GroupEdit(g.doc, MemberChange(add=(Member(top, "Group"),))))
    for descending in (False, True):
        assert sum(_forward(w, descending, 2), []) == _counted(w, descending)


def test_members_deleted_re_added_and_replaced(world: W) -> None:
    """A member user deleted, one removed and added back, the members replaced (PUT): rows rewritten."""
    w = world
    made = [w.users.create(SYSTEM, UserEdit({"userName": f"d{n}"})).id for n in range(12)]
    g = w.groups.create(
        SYSTEM, GroupEdit({"displayName": "g"}, MemberChange(add=tuple(map(Member, made[:8]))))
    )
    w.roles.assign(SYSTEM, ROLE, "group", g.id)
    w.users.delete(SYSTEM, made[3])
    w.groups.update(SYSTEM, g.id, lambda x: GroupEdit(x.doc, MemberChange(remove=frozenset({made[4]}))))
    w.groups.update(SYSTEM, g.id, lambda x: GroupEdit(x.doc, MemberChange(add=(Member(made[4]),))))
    w.groups.update(
        SYSTEM,
        g.id,
        lambda x: GroupEdit(
            x.doc, MemberChange(clear=True, add=tuple(Member(m) for m in made[2:11] if m != made[3]))
        ),
    )
    for descending in (False, True):
        assert sum(_forward(w, descending, 2), []) == _counted(w, descending)


def test_a_filter_with_the_role_narrows_the_page_by_creation(world: W) -> None:
    """``search`` takes a SCIM filter with the role: the page is of the holders that match it.

    The ranges' first rows are the first holders; when the filter refuses them, a page read among
    them alone came back empty and said no more followed (found attacking ADR 0052).
    """
    w = world
    made = [
        w.users.create(SYSTEM, UserEdit({"userName": f"{'x' if n >= 6 else 'y'}{n}"})).id for n in range(10)
    ]
    for n in made:
        w.roles.assign(SYSTEM, ROLE, "user", n)
    only = parse_filter(USER, 'userName sw "x"')
    for descending in (False, True):
        expected = _counted(w, descending, filter=only)
        assert len(expected) == 4
        assert sum(_forward(w, descending, 2, filter=only), []) == expected


def test_a_group_given_thousands_of_members_at_once_keeps_each_creation_time(world: W) -> None:
    """One PATCH adding more members than one multi-row INSERT batch holds (insertmanyvalues pages)."""
    w = world
    made = [w.users.create(SYSTEM, UserEdit({"userName": f"m{n}"})).id for n in range(2500)]
    g = w.groups.create(SYSTEM, GroupEdit({"displayName": "big"}))
    w.groups.update(SYSTEM, g.id, lambda x: GroupEdit(x.doc, MemberChange(add=tuple(map(Member, made)))))
    with w.engine.connect() as connection:
        kept = dict(
            connection.execute(select(group_members.c.member_id, group_members.c.member_created)).all()
        )
        created = dict(connection.execute(select(users.c.id, users.c.created)).all())
    assert kept == {id: created[id] for id in made}


def test_a_user_deleted_by_hand_leaves_the_other_holders_listed(world: W) -> None:
    """A user row deleted by hand-written SQL keeps its membership rows (``member_id`` has no
    foreign key): the counted read passes over them, and so must the read by creation, or its page
    would come back short, saying no more followed, and every holder after that user would be
    missing (found attacking ADR 0052; each range now joins ``users``).
    """
    w = world
    made = [w.users.create(SYSTEM, UserEdit({"userName": f"h{n}"})).id for n in range(6)]
    g = w.groups.create(SYSTEM, GroupEdit({"displayName": "g"}, MemberChange(add=tuple(map(Member, made)))))
    w.roles.assign(SYSTEM, ROLE, "group", g.id)
    with w.engine.begin() as connection:
        connection.execute(users.delete().where(users.c.id == made[1]))
    expected = _counted(w, False)
    assert expected == [made[0], *made[2:]]
    assert sum(_forward(w, False, 1), []) == expected


@pytest.mark.parametrize("seed", range(4))
def test_random_directories_list_the_same_holders_both_ways(database_url: str, seed: int) -> None:
    """Users created in runs of ties, some provisioned the role; groups nested at random, cycles
    included; the role given to some groups and assigned to some users; some users deleted. Every
    order, status and a few page sizes, by Next and by Previous, against the counted read.

    The engine is the server's (``make_engine``): on SQLite the foreign keys are on only there, and
    a user deleted without them would leave its ``user_roles`` rows (the case just above).
    """
    rnd = random.Random(seed)
    with migrated_engine(database_url):
        pass
    engine = make_engine(database_url)
    store = SqlStore(engine)
    try:
        times = sorted(rnd.randint(1, 15) for _ in range(60))
        clock = iter([*times, *range(1000, 10**6)]).__next__
        w = W(engine, Users(store, clock), Groups(store, clock), Roles(store, clock), [])
        for n in range(len(times)):
            doc: dict[str, Any] = {"userName": f"r{n}", "active": rnd.random() < 0.7}
            if rnd.random() < 0.15:
                doc["roles"] = [{"value": ROLE.value}]
            w.ids.append(w.users.create(SYSTEM, UserEdit(doc)).id)
        made: list[str] = []
        for n in range(rnd.randint(1, 12)):
            add = [Member(m) for m in rnd.sample(w.ids, rnd.randint(0, 15))]
            add += [Member(g, "Group") for g in rnd.sample(made, min(len(made), rnd.randint(0, 2)))]
            made.append(
                w.groups.create(SYSTEM, GroupEdit({"displayName": f"g{n}"}, MemberChange(add=tuple(add)))).id
            )
        for g in made:
            other = rnd.choice(made)
            if rnd.random() < 0.3 and other != g:
                w.groups.update(
                    SYSTEM, g, lambda x, o=other: GroupEdit(x.doc, MemberChange(add=(Member(o),)))
                )
        for g in rnd.sample(made, rnd.randint(1, len(made))):
            w.roles.assign(SYSTEM, ROLE, "group", g)
        for u in rnd.sample(w.ids, 8):
            w.roles.assign(SYSTEM, ROLE, "user", u)
        for u in rnd.sample(w.ids, 4):
            w.users.delete(SYSTEM, u)
        for descending in (False, True):
            for active in (None, True, False):
                expected = _counted(w, descending, active)
                for limit in (1, 2, 5):
                    assert sum(_forward(w, descending, limit, active), []) == expected
                    assert sum(_backward(w, descending, limit, active), []) == expected
    finally:
        store.close()
        engine.dispose()


def _backward(w: W, descending: bool, limit: int, active: bool | None) -> list[list[str]]:
    """The uncounted pages, by Previous from the end."""
    pages: list[list[str]] = []
    key = None
    while True:
        seek = Seek(key, backward=True, count=False)
        page = w.users.search(_query(descending, limit, seek), role=ROLE, active=active)
        pages.insert(0, [v.user.id for v in page.items])
        if not page.more:
            return pages
        key = page.keys[0]
