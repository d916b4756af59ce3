"""The role filter's walk (ADR 0045): the users in the list's order, each tested for the role.

On both engines, with roles held directly, through groups nested down to MAX_NESTING and
round a cycle: a common role (most users) and a rare one (two users at the end of the
order), every window size from "fall back at once" to "the whole table". Every keyset
page, forward and backward, must list exactly the holders the grants name (read upward
from each user, ``reached_groups``: another walk than either search's), in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit, Groups
from scimhub.directory.roles import Roles
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.groups import Member, MemberChange
from scimhub.domain.roles import Role
from scimhub.query.pages import Query, Seek, Walk
from scimhub.query.paths import resolve
from scimhub.query.schema import USER
from scimhub.store.sql.directory import SqlUserRows
from scimhub.store.sql.keyset import up_to, window_end
from scimhub.store.sql.roles import MAX_NESTING
from scimhub.store.sql.searches import holding, holds
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import users as users_table
from tests.databases import migrated_engine

COMMON, RARE = Role.EDITOR, Role.ADMIN


@dataclass
class World:
    engine: Engine
    users: Users
    roles: Roles
    ids: list[str]
    """Every user, in creation order."""


@pytest.fixture(scope="module")
def world(module_database_url: str) -> Iterator[World]:
    with migrated_engine(module_database_url) as engine, closing(SqlStore(engine)) as store:
        clock = iter(range(1, 10**6)).__next__
        users, groups, roles = Users(store, clock), Groups(store, clock), Roles(store, clock)
        made = [
            users.create(SYSTEM, UserEdit({"userName": f"u{n:02d}", "active": n % 4 != 1})).id
            for n in range(30)
        ]

        def group(name: str, *members: str) -> str:
            change = MemberChange(add=tuple(Member(m) for m in members))
            return groups.create(SYSTEM, GroupEdit({"displayName": name}, change)).id

        # A chain: level k holds user k+10 and level k-1; the role is on level 1, so the user of
        # level k is k groups below it: u11 … u18 hold it (MAX_NESTING = 8), u19 does not.
        below = group(f"level{MAX_NESTING + 1}", made[MAX_NESTING + 11])
        for level in range(MAX_NESTING, 0, -1):
            below = group(f"level{level}", made[level + 10], below)
        roles.assign(SYSTEM, COMMON, "group", below)
        looped = group("loop-a", made[20], made[21])
        back = group("loop-b", looped)
        groups.update(SYSTEM, looped, lambda g: GroupEdit(g.doc, MemberChange(add=(Member(back),))))
        roles.assign(SYSTEM, COMMON, "group", looped)  # a cycle under the role (a in b in a): walks still end
        # u12 also holds it through level 2, u25 also by provisioning: each holder is listed once.
        for n in (*range(0, 8), 12, 22, 23, 24, 25):
            roles.assign(SYSTEM, COMMON, "user", made[n])
        users.update(SYSTEM, made[25], lambda u: UserEdit({**u.doc, "roles": [{"value": COMMON.value}]}))
        for n in (28, 29):  # rare: the last two by name, far from the start of the walk
            roles.assign(SYSTEM, RARE, "user", made[n])
        yield World(engine, users, roles, made)


def _holders(world: World, role: Role, active: bool | None = None) -> set[str]:
    grants = world.roles.of_users(world.ids)
    found = {user for user, held in grants.items() if role in held.effective}
    if active is None:
        return found
    return {user for user in found if world.users.get(user).user.active == active}


def test_the_world_has_the_holders_it_means_to(world: World) -> None:
    """The grants agree with the set-up: the nesting bound and the cycle are where they should be."""
    holders = _holders(world, COMMON)
    assert world.ids[MAX_NESTING + 10] in holders and world.ids[MAX_NESTING + 11] not in holders
    assert {world.ids[20], world.ids[21]} <= holders and len(holders) == 22
    assert _holders(world, RARE) == {world.ids[28], world.ids[29]}


@pytest.mark.parametrize("role", [COMMON, RARE])
def test_the_per_user_test_finds_whom_the_holders_walk_finds(world: World, role: Role) -> None:
    """``holds`` (up from each user, through ``conferring``) and ``holding`` (down from the groups) agree."""
    with world.engine.connect() as connection:
        tested = set(connection.execute(select(users_table.c.id).where(holds(role))).scalars())
        held = users_table.c.id.in_(holding(role))
        walked = set(connection.execute(select(users_table.c.id).where(held)).scalars())
    assert tested == walked == _holders(world, role)


def test_a_window_is_the_next_rows_of_the_order_or_none_at_the_end(world: World) -> None:
    by_name = resolve(USER, "userName")
    with world.engine.connect() as connection:
        names = list(
            connection.execute(select(users_table.c.user_name_key).order_by("user_name_key")).scalars()
        )

        def inside(query: Query, rows: int) -> list[str] | None:
            last = window_end(connection, users_table, USER, query, rows)
            if last is None:
                return None
            found = (
                select(users_table.c.user_name_key).where(up_to(USER, query, last)).order_by("user_name_key")
            )
            return list(connection.execute(found).scalars())

        first = Query(sort_by=by_name, seek=Seek(None))
        assert inside(first, 5) == names[:5]
        after = Query(sort_by=by_name, seek=Seek((names[9],)))
        assert inside(after, 3) == names[:13]  # the seek's own condition keeps those after the key
        back = Query(sort_by=by_name, seek=Seek((names[9],), backward=True))
        assert inside(back, 4) == names[5:]
        assert inside(Query(sort_by=by_name, seek=Seek((names[-3],))), 2) == names
        assert inside(Query(sort_by=by_name, seek=Seek((names[-3],))), 3) is None


def test_a_window_ends_after_the_rows_that_tie_with_its_last(database_url: str) -> None:
    """The window's end is read without the id (ADR 0051): users created in the same microsecond
    as its last row are inside it, so it is still a prefix of the order, only longer."""
    by_created = resolve(USER, "meta.created")
    instants = iter([5, 7, 7, 7, 7, 9, 9])
    with migrated_engine(database_url) as engine, closing(SqlStore(engine)) as store:
        users = Users(store, lambda: next(instants))
        made = [users.create(SYSTEM, UserEdit({"userName": f"t{n}"})).user_name for n in range(7)]
        with engine.connect() as connection:

            def inside(query: Query, rows: int) -> list[str] | None:
                end = window_end(connection, users_table, USER, query, rows)
                if end is None:
                    return None
                found = select(users_table.c.user_name).where(up_to(USER, query, end))
                return sorted(connection.execute(found).scalars())

            oldest = Query(sort_by=by_created, seek=Seek(None))
            assert inside(oldest, 1) == made[:1]
            assert inside(oldest, 2) == inside(oldest, 5) == made[:5]  # t1 … t4 tie at 7
            assert inside(oldest, 7) == made and inside(oldest, 8) is None
            newest = Query(sort_by=by_created, descending=True, seek=Seek(None))
            assert inside(newest, 1) == made[5:]
            assert inside(newest, 3) == made[1:]


SORTS = [
    (path, descending)
    for path in ("userName", "meta.created", "meta.lastModified")
    for descending in (False, True)
]


def _walk_pages(
    world: World, role: Role, path: str, descending: bool, walk: Walk | None, **narrow: Any
) -> list[str]:
    """Page through the role's list by Next, then back by Previous; return the ids, checking both agree."""
    query = Query(sort_by=resolve(USER, path), descending=descending, limit=4)
    forward: list[str] = []
    key = None
    while True:
        page = world.users.search(replace(query, seek=Seek(key, count=False)), role=role, walk=walk, **narrow)
        forward += [view.user.id for view in page.items]
        if not page.more:
            break
        key = page.keys[-1]
    backward: list[str] = []
    key = None
    while True:
        seek = Seek(key, backward=True, count=False)
        page = world.users.search(replace(query, seek=seek), role=role, walk=walk, **narrow)
        backward = [view.user.id for view in page.items] + backward
        if not page.more:
            break
        key = page.keys[0]
    assert backward == forward
    return forward


def _in_order(world: World, ids: set[str], path: str, descending: bool) -> list[str]:
    stored = {user: world.users.get(user).user for user in ids}  # every time is distinct: no ties
    by = {"userName": "user_name", "meta.created": "created", "meta.lastModified": "last_modified"}[path]
    return sorted(ids, key=lambda user: getattr(stored[user], by), reverse=descending)


def _spy_on_the_walk(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each page that asked for a window, whether the walk served it."""
    served: list[bool] = []
    walker = SqlUserRows._walk

    def spy(self: SqlUserRows, *args: Any) -> Any:
        found = walker(self, *args)
        served.append(found is not None)
        return found

    monkeypatch.setattr(SqlUserRows, "_walk", spy)
    return served


@pytest.mark.parametrize(("path", "descending"), SORTS)
@pytest.mark.parametrize("walk", [0, 1, 3, 8, 1000])
@pytest.mark.parametrize("role", [COMMON, RARE])
def test_every_window_pages_through_exactly_the_holders_in_order(
    world: World, role: Role, path: str, descending: bool, walk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _spy_on_the_walk(monkeypatch)
    expected = _in_order(world, _holders(world, role), path, descending)
    assert _walk_pages(world, role, path, descending, Walk(walk)) == expected
    if path == "meta.created":
        assert not served  # by creation, the holders' own ranges serve every page (ADR 0052)
        return
    if walk == 0:
        assert not served  # no window asked: the holders are read, as before
    elif walk >= len(world.ids):
        assert all(served)  # the window is the whole rest of the table: never falls back
    if walk == 8 and role is COMMON:
        assert any(served)  # a common role's pages come from the window …
    if walk == 1 and role is RARE:
        assert not all(served)  # … a rare one's, missing from a short window, from its holders


@pytest.mark.parametrize("walk", [0, 5, 1000])
def test_the_status_narrows_the_walk_too(world: World, walk: int) -> None:
    for active in (True, False):
        expected = _in_order(world, _holders(world, COMMON, active), "userName", False)
        assert _walk_pages(world, COMMON, "userName", False, Walk(walk), active=active) == expected


def test_a_counted_page_reads_the_holders_and_counts_them_exactly(world: World) -> None:
    """A window cannot count the role: a page asking for its count is served the holders' way."""
    query = Query(sort_by=resolve(USER, "userName"), limit=4, seek=Seek(None))
    page = world.users.search(query, role=COMMON, walk=Walk(1000))
    assert page.total == len(_holders(world, COMMON)) == 22


def _sample(world: World, role: Role, path: str) -> tuple[Any, ...]:
    return tuple(sorted(key for (key,) in world.users.sample_holders(role, 1000, [resolve(USER, path)])))


@pytest.mark.parametrize("role", [COMMON, RARE])
def test_a_sample_is_drawn_from_the_holders_with_what_the_order_sorts_by(world: World, role: Role) -> None:
    holders = _holders(world, role)
    names = {world.users.get(user).user.user_name.lower() for user in holders}
    assert set(_sample(world, role, "userName")) == names
    # Users only, though a third of what the common role's groups hold are the groups nested in them:
    # drawn 50 times, a draw among them all would come up short about once.
    for _ in range(50):
        drawn = world.users.sample_holders(role, 3, [resolve(USER, "userName")])
        assert len(drawn) == min(3, len(holders)) and {name for (name,) in drawn} <= names


@pytest.mark.parametrize(("path", "descending"), SORTS)
@pytest.mark.parametrize("sample", ["true", "all at the start", "all at the end", "in the middle"])
@pytest.mark.parametrize("role", [COMMON, RARE])
def test_the_sample_chooses_the_read_and_never_the_answer(
    world: World, role: Role, path: str, descending: bool, sample: str
) -> None:
    """A sample that lies (ADR 0051) only sends pages to one read or the other: every page is still exact."""
    true = _sample(world, role, path)
    placed = {
        "true": true,
        "all at the start": (true[0],) * len(true),
        "all at the end": (true[-1],) * len(true),
        "in the middle": (true[len(true) // 2],) * len(true),
    }[sample]
    walk = Walk(6, len(true), placed)
    expected = _in_order(world, _holders(world, role), path, descending)
    assert _walk_pages(world, role, path, descending, walk) == expected


@pytest.mark.parametrize("descending", [False, True])
def test_a_sample_beyond_the_window_skips_the_walk_and_one_inside_takes_it(
    world: World, descending: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page, last modified first or last: the walk is taken exactly when the sample puts half
    a page of holders inside the window of 10 users (which holds a page of them, either way)."""
    served = _spy_on_the_walk(monkeypatch)
    modified = _sample(world, COMMON, "meta.lastModified")
    near, far = (modified[-1], modified[0]) if descending else (modified[0], modified[-1])
    query = Query(
        sort_by=resolve(USER, "meta.lastModified"),
        descending=descending,
        limit=4,
        seek=Seek(None, count=False),
    )
    for placed in (near, far):
        world.users.search(query, role=COMMON, walk=Walk(10, 22, (placed,) * 22))
    assert served == [True, False]


def test_the_walk_down_a_roles_groups_reads_nested_groups_only() -> None:
    """SQLite's plan: the step down reads the index of group-in-group rows, never a group's member
    users one by one, and the holders' members come from the membership key alone (ADR 0045)."""
    with migrated_engine() as engine, engine.connect() as connection:
        compiled = holding(COMMON).compile(engine, compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    assert "SEARCH group_members USING INDEX ix_group_members_nested (group_id=?)" in plan, plan
    assert (
        "SEARCH group_members USING COVERING INDEX sqlite_autoindex_group_members_1 (group_id=?)" in plan
    ), plan
