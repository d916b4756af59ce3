"""On SQLite, the writes the event loop runs in one turn share one transaction and one COMMIT (ADR 0061).

Each test runs works as tasks of one event loop, each inside ``SqlStore.unwaiting``, as
``call_as_bearer`` does: tasks started together run in the same turn. What the database holds is
read on another connection, as another process would see it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import MEMBERS_ON_THE_LOOP, GroupEdit, Groups
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.groups import Member, MemberChange
from scimhub.errors import Conflict, ServiceUnavailable
from scimhub.store.contract import WouldWait
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import journals_in_memory, make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import group_members, users
from tests.store.turns import TurnHeld


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    """The server's own engine: its pragmas (foreign keys on) and its own BEGINs."""
    engine = make_engine(f"sqlite:///{tmp_path}/shared.db")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def commits(engine: Engine) -> list[int]:
    """One entry per COMMIT any connection of the engine makes."""
    made: list[int] = []
    event.listen(engine, "commit", lambda _connection: made.append(1))
    return made


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(users.c.user_name)).scalars())


def _create(store: SqlStore, name: str) -> None:
    Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": name}))


def _on_the_loop(store: SqlStore, *works: Callable[[], object]) -> list[BaseException | None]:
    """Run each work as a task of one loop, started together; return how each failed (its commit first)."""

    async def one(work: Callable[[], object]) -> BaseException | None:
        failure = None
        with store.unwaiting() as on_loop:
            try:
                work()
            except Exception as error:  # noqa: BLE001 - a handler would render it; its answer still waits
                failure = error
        try:
            await on_loop.committed()
        except ServiceUnavailable as error:
            return error
        return failure

    async def all_of() -> list[BaseException | None]:
        return list(await asyncio.gather(*(one(work) for work in works)))

    return asyncio.run(all_of())


def test_writes_of_one_turn_commit_once_and_only_then_are_seen(
    store: SqlStore, engine: Engine, commits: list[int]
) -> None:
    seen_before_commit: list[list[str]] = []

    def create_and_look(name: str) -> Callable[[], None]:
        def work() -> None:
            _create(store, name)
            seen_before_commit.append(_names(engine))

        return work

    assert (
        _on_the_loop(store, create_and_look("ann"), create_and_look("bob"), create_and_look("cy"))
        == [None] * 3
    )
    assert seen_before_commit == [[], [], []]  # nothing is out before the turn's commit
    assert _names(engine) == ["ann", "bob", "cy"]
    assert len(commits) == 1


def test_a_failing_write_rolls_back_alone_and_still_waits_for_the_commit(
    store: SqlStore, engine: Engine
) -> None:
    outcomes = _on_the_loop(store, lambda: _create(store, "ann"), lambda: _create(store, "ann"))
    assert outcomes[0] is None and isinstance(outcomes[1], Conflict)  # it saw the first one's row
    assert _names(engine) == ["ann"]


def _violating_a_deferred_key(store: SqlStore) -> None:
    """Write a membership of no group, its foreign key checked at COMMIT: the shared commit fails."""
    with store.transaction() as tx:
        tx.connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        row = {"group_id": "no-such-group", "member_id": "m", "member_type": "User"}
        tx.connection.execute(insert(group_members).values(row))


def test_a_failed_commit_fails_every_work_of_the_turn_and_writes_nothing(
    store: SqlStore, engine: Engine
) -> None:
    outcomes = _on_the_loop(store, lambda: _create(store, "ann"), lambda: _violating_a_deferred_key(store))
    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
    assert _names(engine) == []
    assert _on_the_loop(store, lambda: _create(store, "bob")) == [None]  # the next turn commits
    assert _names(engine) == ["bob"]


def test_an_error_that_ends_the_whole_transaction_fails_every_work_of_the_turn(
    store: SqlStore, engine: Engine
) -> None:
    def ended_under_it() -> None:  # as SQLite does itself on SQLITE_FULL or an I/O error
        with store.transaction() as tx:
            tx.connection.connection.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
            raise RuntimeError("the disk is full")

    outcomes = _on_the_loop(
        store, lambda: _create(store, "ann"), ended_under_it, lambda: _create(store, "cy")
    )
    assert isinstance(outcomes[0], ServiceUnavailable) and isinstance(outcomes[2], ServiceUnavailable)
    assert _names(engine) == []
    assert _on_the_loop(store, lambda: _create(store, "bob")) == [None]
    assert _names(engine) == ["bob"]


def test_a_work_reads_its_own_write_before_the_commit(store: SqlStore) -> None:
    found: list[object] = []

    def create_then_read() -> None:
        _create(store, "ann")
        with store.read() as tx:
            found.append(tx.users.get_by_name("ann"))

    assert _on_the_loop(store, create_then_read) == [None]
    assert found[0] is not None


def test_a_write_on_the_loop_outside_a_work_commits_the_turn_first(store: SqlStore, engine: Engine) -> None:
    async def both() -> None:
        with store.unwaiting() as on_loop:
            _create(store, "ann")
        _create(store, "bob")  # waits for the turn's writes: they commit first, here, not a deadlock
        assert _names(engine) == ["ann", "bob"]
        await on_loop.committed()

    asyncio.run(asyncio.wait_for(both(), 10))


def test_close_on_the_loop_commits_the_turn(engine: Engine) -> None:
    store = SqlStore(engine)

    async def write_then_close() -> None:
        with store.unwaiting() as on_loop:
            _create(store, "ann")
        store.close()
        await on_loop.committed()

    asyncio.run(write_then_close())
    assert _names(engine) == ["ann"]


def test_a_first_write_finding_the_turn_taken_moves_and_leaves_nothing_open(
    store: SqlStore, engine: Engine
) -> None:
    async def attempt() -> None:
        with pytest.raises(WouldWait), store.unwaiting():
            _create(store, "ann")

    with TurnHeld(store):
        asyncio.run(attempt())
    assert _on_the_loop(store, lambda: _create(store, "bob")) == [None]
    assert _names(engine) == ["bob"]


def test_listeners_hear_once_for_the_turn_of_its_last_event(store: SqlStore) -> None:
    heard: list[int] = []
    store.on_commit(heard.append)
    assert _on_the_loop(store, lambda: _create(store, "ann"), lambda: _create(store, "bob")) == [None, None]
    with store.read() as tx:
        last = max(recorded.seq for recorded in tx.events.after(0, 100))
    assert heard == [last]


def _temporary_files_open() -> list[str]:
    """SQLite's temporary files this process holds open: unlinked ``etilqs_*`` files (Linux's /proc)."""
    return [target for fd in Path("/proc/self/fd").iterdir() if "etilqs_" in (target := _link(fd))]


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed meanwhile (the listing's own descriptor)
        return ""


def _entra_create(store: SqlStore, index: int) -> None:
    """A create as Entra sends it: with an e-mail and a name, it changes 17 b-trees."""
    name = f"user{index}@contoso.example"
    edit = {
        "userName": name,
        "displayName": f"User {index}",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "name": {"formatted": f"User {index}", "familyName": f"{index}", "givenName": "User"},
    }
    Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit(edit))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads open files from Linux's /proc")
def test_the_savepoints_of_a_turn_journal_in_memory_not_in_a_temporary_file(store: SqlStore) -> None:
    # Each write of a turn runs in a savepoint, whose journal passes SQLite's 64 KiB from the
    # second create on: in a temporary file that cost an open, an unlink and its writes, and
    # failed the turn's writes where no temporary directory is writable (ADR 0076).
    held: list[int] = []

    def create(index: int) -> None:
        _entra_create(store, index)
        held.append(len(_temporary_files_open()))

    assert _on_the_loop(store, *(lambda i=i: create(i) for i in range(4))) == [None] * 4
    assert held == [0] * 4


def _group_of(store: SqlStore, members: int) -> str:
    ids = [
        Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": f"m{i}"})).id
        for i in range(members)
    ]
    change = MemberChange(add=tuple(Member(id) for id in ids))
    return Groups(store, lambda: 1_000_000).create(SYSTEM, GroupEdit({"displayName": "big"}, change)).id


def test_what_may_change_rows_without_bound_leaves_the_turn_before_it_writes(
    store: SqlStore, engine: Engine
) -> None:
    # In a turn, its savepoint's journal would be in memory and grow with the rows: a group's, a
    # user's groups, a body's members (ADR 0076). In a core thread it goes to a file as SQLite chooses.
    groups = Groups(store, lambda: 1_000_000)
    group = _group_of(store, 3)
    moved: list[str] = []

    def clear() -> None:
        groups.update(SYSTEM, group, lambda g: GroupEdit(g.doc, MemberChange(clear=True)))

    def on_the_loop(name: str, work: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except WouldWait:
                moved.append(name)

        return run

    def create_with(members: int) -> None:
        change = MemberChange(add=tuple(Member(f"unknown{i}") for i in range(members)))
        groups.create(SYSTEM, GroupEdit({"displayName": f"new {members}"}, change))

    user = Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "leaver"})).id
    works = [
        on_the_loop("clear", clear),
        on_the_loop("delete", lambda: groups.delete(SYSTEM, group)),
        on_the_loop("user delete", lambda: Users(store, lambda: 1_000_000).delete(SYSTEM, user)),
        on_the_loop("create with 1,001", lambda: create_with(MEMBERS_ON_THE_LOOP + 1)),
        on_the_loop("user create", lambda: _create(store, "ann")),
    ]
    assert _on_the_loop(store, *works) == [None] * 5
    assert moved == ["clear", "delete", "user delete", "create with 1,001"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(group_members)).scalar() == 3
    clear()  # off the loop: at once
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(group_members)).scalar() == 0


def test_the_pool_never_hands_out_a_connection_with_its_journals_in_memory(engine: Engine) -> None:
    # A read's large sort must go to a file, not to this process's memory: whatever gave a writer
    # back to the pool (its store closing, a failed rollback), it comes back with SQLite's default.
    store = SqlStore(engine)
    assert _on_the_loop(store, lambda: _entra_create(store, 1)) == [None]
    store.close()
    with engine.connect() as connection:
        journals_in_memory(connection, True)
    pooled = [engine.connect() for _ in range(engine.pool.checkedin() + 1)]  # type: ignore[attr-defined]
    try:
        assert {c.exec_driver_sql("PRAGMA temp_store").scalar() for c in pooled} == {0}
    finally:
        for connection in pooled:
            connection.close()
