"""A user's or group's row goes out with what its transaction runs next, on PostgreSQL its COMMIT (ADR 0063).

On both engines: what the transaction reads after the write sees it, whichever way the read is run;
a taken name is ``Uniqueness`` wherever it is met, and leaves the connection fit for the next
transaction; a rolled-back write is never sent later. On PostgreSQL: the row and its events go
out in one round trip, one transaction that the pipeline's end commits (ADR 0075).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import DBAPIError

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit, Groups
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.events import Category, ChangeEvent, Operation
from scimhub.domain.groups import Member, MemberChange
from scimhub.errors import Uniqueness
from scimhub.store.sql import prepared
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import events, group_members, users
from tests.store.contract_store import make_group, make_user


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(users.c.user_name)).scalars())


def _what(statement: Any) -> str:
    """The table a statement writes, else the function it calls, else its SQL."""
    table = getattr(statement, "table", None)
    if table is not None:
        return str(table.name)
    function = next(iter(getattr(statement, "selected_columns", ())), None)
    return str(getattr(function, "name", None) or statement)


def test_a_read_after_the_write_sees_it_by_either_path(store: SqlStore) -> None:
    user = make_user("ahead")
    with store.transaction() as tx:
        tx.users.insert(user)
        found = tx.users.get_by_name("AHEAD")  # the driver's cursor (prepared.rows)
        counted = tx.connection.execute(select(func.count()).select_from(users)).scalar()  # SQLAlchemy
    assert found is not None and found.id == user.id
    assert counted == 1


def test_a_row_that_refers_to_the_written_one_finds_it(store: SqlStore, engine: Engine) -> None:
    """A membership's foreign key needs the group's row sent first, through SQLAlchemy's execution too."""
    group, user = make_group("ahead group"), make_user("member")
    with store.transaction() as tx:
        tx.users.insert(user)
        tx.groups.insert(group)
        row = {"group_id": group.id, "member_id": user.id, "member_type": "User", "display": None}
        tx.connection.execute(insert(group_members), row)
    with engine.connect() as connection:
        assert connection.execute(select(group_members.c.member_id)).scalars().all() == [user.id]


@pytest.mark.parametrize("with_events", [True, False])
def test_a_taken_name_is_uniqueness_and_the_next_transaction_commits(
    store: SqlStore, engine: Engine, with_events: bool
) -> None:
    users_ = Users(store, lambda: 1_000_000)
    users_.create(SYSTEM, UserEdit({"userName": "taken"}))
    with pytest.raises(Uniqueness, match="taken"):
        if with_events:
            users_.create(SYSTEM, UserEdit({"userName": "TAKEN"}))
        else:
            with store.transaction() as tx:
                tx.users.insert(make_user("Taken"))
    users_.create(SYSTEM, UserEdit({"userName": "next"}))
    assert _names(engine) == ["next", "taken"]


def test_a_taken_name_met_by_the_next_statement_sqlalchemy_runs_is_uniqueness(store: SqlStore) -> None:
    """A group with members: its row goes out ahead of the membership rows' statement, and fails there."""
    member = Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "member"}))
    groups = Groups(store, lambda: 1_000_000)
    groups.create(SYSTEM, GroupEdit({"displayName": "taken"}, MemberChange()))
    with pytest.raises(Uniqueness, match="TAKEN"):
        groups.create(SYSTEM, GroupEdit({"displayName": "TAKEN"}, MemberChange(add=(Member(member.id),))))
    made = groups.create(SYSTEM, GroupEdit({"displayName": "next"}, MemberChange(add=(Member(member.id),))))
    with store.read() as tx:
        assert tx.members.counts([made.id]) == {made.id: 1}


def test_a_write_rolled_back_is_never_sent(store: SqlStore, engine: Engine) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.users.insert(make_user("undone"))
        raise RuntimeError("the use case fails after its write")
    with store.transaction() as tx:
        tx.users.insert(make_user("kept"))
    assert _names(engine) == ["kept"]


def test_on_postgresql_a_create_is_one_round_trip_and_one_transaction_without_begin_or_commit(
    store: SqlStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline's Sync ends the transaction its statements ran in (ADR 0075); that it is one
    transaction, undone whole, is the next test's."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no round trips: it writes the row at once")
    round_trips: list[list[str]] = []
    sent = prepared._run

    def counted(connection: Any, runs: Any) -> list[list[Any]]:
        assert connection.connection.driver_connection.autocommit  # psycopg sends no BEGIN of its own
        round_trips.append([_what(plan.compiled.statement) for plan, _, _ in runs])
        return sent(connection, runs)

    monkeypatch.setattr(prepared, "_run", counted)
    through_sqlalchemy: list[str] = []  # any statement sent otherwise would be a round trip of its own
    event.listen(engine, "before_cursor_execute", lambda *sent: through_sqlalchemy.append(sent[2]))
    Users(store, lambda: 1_000_000).create(
        SYSTEM, UserEdit({"userName": "one.trip", "emails": [{"value": "a@b"}]})
    )
    assert through_sqlalchemy == []
    # One pipeline; the commit-order lock, the event and its NOTIFY are one statement (ADR 0068).
    assert round_trips == [["users", "user_emails", "pg_notify"]]
    assert _names(engine) == ["one.trip"]
    assert through_sqlalchemy, "the listener hears what SQLAlchemy sends"


def test_a_write_is_undone_whole_when_its_events_statement_fails(store: SqlStore, engine: Engine) -> None:
    """Its rows stand or fall with its events, which go out last (one statement on PostgreSQL, ADR 0068)."""
    actor: Any = None  # the events' actor is NOT NULL: their INSERT, the transaction's last statement, fails
    event = ChangeEvent("corpuser", "urn:li:corpuser:undone", Category.LIFECYCLE, Operation.CREATE, actor, 1)
    with pytest.raises(DBAPIError), store.transaction() as tx:
        tx.users.insert(make_user("undone"))
        tx.events.append([event])
    users_ = Users(store, lambda: 1_000_000)
    users_.create(SYSTEM, UserEdit({"userName": "next"}))
    assert _names(engine) == ["next"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 1
