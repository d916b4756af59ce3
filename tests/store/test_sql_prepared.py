"""Statements run on the driver's cursor (``store/sql/prepared.py``, ADR 0047) answer as SQLAlchemy would.

On both engines: a plan is shared by every statement of one shape, each with its own values;
results come back converted (JSON documents, booleans) and readable by name and position;
an expanding ``IN`` takes SQLAlchemy's own path; a driver error takes SQLAlchemy's error path
(``IntegrityError``; an outage is ``ServiceUnavailable``, ADR 0029).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from scimhub.errors import ServiceUnavailable
from scimhub.store.sql import prepared
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.prepared import begin_ahead, in_turn, rows
from scimhub.store.sql.tables import users
from tests.databases import migrated_engine

DOC = {"userName": "Ada", "emails": [{"value": "ada@example.com", "primary": True}], "n": 1.5}


def _user(id: str, name: str, active: bool) -> dict[str, object]:
    return {
        "id": id,
        "user_name": name,
        "user_name_key": name.lower(),
        "urn": f"urn:li:corpuser:{name}",
        "active": active,
        "doc": {**DOC, "userName": name},
        "version": 1,
        "created": 10,
        "last_modified": 20,
    }


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    """A connection as the store's: on PostgreSQL in the driver's autocommit, its ``BEGIN`` sent ahead."""
    with migrated_engine(database_url) as engine:
        if engine.dialect.name == "postgresql":
            prepared.keep_writes_ahead(engine)
            engine = begin_ahead(engine)
        with engine.connect() as connection:
            with connection.begin():
                connection.execute(insert(users), [_user("a", "Ada", True), _user("b", "Bob", False)])
            yield connection


def test_statements_of_one_shape_share_a_plan_and_keep_their_own_values(connection: Connection) -> None:
    def named(name: str) -> list[str]:
        # A new statement each call, its value a literal: one shape, as a filter compiles.
        return [row.id for row in rows(connection, select(users.c.id).where(users.c.user_name_key == name))]

    assert (named("ada"), named("bob"), named("carl"), named("ada")) == (["a"], ["b"], [], ["a"])


def test_a_kept_statement_finds_its_plan_without_its_cache_key(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement built once is known by the object: its cache key, a deep tuple, is not hashed again."""
    looked_up: list[object] = []

    class Plans(OrderedDict[Any, Any]):
        def get(self, key: Any, default: Any = None) -> Any:
            looked_up.append(key)
            return super().get(key, default)

    monkeypatch.setattr(prepared, "_plans", Plans())
    by_name = select(users.c.id).where(users.c.user_name_key == bindparam("name"))
    assert [rows(connection, by_name, {"name": n})[0].id for n in ("ada", "bob", "ada")] == ["a", "b", "a"]
    assert len(looked_up) == 1


def test_rows_come_converted_and_read_by_name_and_position(connection: Connection) -> None:
    found = rows(connection, select(users).where(users.c.id == bindparam("key")), {"key": "b"})
    assert len(found) == 1
    row = found[0]
    assert (row.id, row[0], row.active, row.doc, row.created) == (
        "b",
        "b",
        False,
        {**DOC, "userName": "Bob"},
        10,
    )
    assert (
        row.active is False
        and rows(connection, select(users.c.active).where(users.c.id == "a"))[0][0] is True
    )


def test_labels_limits_and_counts(connection: Connection) -> None:
    page = select(users.c.id, literal(7).label("seven")).order_by(users.c.id.desc()).limit(1).offset(1)
    assert [(row.id, row.seven) for row in rows(connection, page)] == [("a", 7)]
    assert rows(connection, select(func.count()).select_from(users))[0][0] == 2


def test_an_expanding_in_takes_sqlalchemys_path(connection: Connection) -> None:
    statement = (
        select(users.c.id).where(users.c.id.in_(bindparam("ids", expanding=True))).order_by(users.c.id)
    )
    assert [row.id for row in rows(connection, statement, {"ids": ["a", "b", "z"]})] == ["a", "b"]
    assert [row.id for row in rows(connection, statement, {"ids": ["b"]})] == ["b"]


def test_a_statement_returning_nothing_runs(connection: Connection) -> None:
    with connection.begin():
        assert rows(connection, insert(users).values(_user("c", "Carl", True))) == []
    assert [row.id for row in rows(connection, select(users.c.id).where(users.c.id == "c"))] == ["c"]


def test_statements_in_turn_run_in_order_each_with_its_values(connection: Connection) -> None:
    names = select(users.c.id).order_by(users.c.id)
    with connection.begin():
        before, added, after = in_turn(
            connection,
            [(names, None), (insert(users).values(_user("c", "Carl", True)), None), (names, None)],
        )
    assert ([r.id for r in before], added, [r.id for r in after]) == (["a", "b"], [], ["a", "b", "c"])


def test_a_list_of_values_runs_the_statement_once_for_each(connection: Connection) -> None:
    template = {k: bindparam(k) for k in _user("", "", True)}
    with connection.begin():
        in_turn(
            connection,
            [(insert(users).values(template), [_user("c", "Carl", True), _user("d", "Dan", False)])],
        )
    found = rows(
        connection,
        select(users.c.id, users.c.active, users.c.doc).where(users.c.id > "b").order_by(users.c.id),
    )
    assert [(r.id, r.active, r.doc["userName"]) for r in found] == [("c", True, "Carl"), ("d", False, "Dan")]


def test_an_error_in_turn_is_sqlalchemys_and_stops_the_rest(connection: Connection) -> None:
    taken = insert(users).values(_user("d", "ada", True))  # the key of Ada
    with pytest.raises(IntegrityError), connection.begin():
        in_turn(connection, [(insert(users).values(_user("c", "Carl", True)), None), (taken, None)])
    assert rows(connection, select(func.count()).select_from(users))[0][0] == 2


def test_the_first_error_in_turn_is_the_one_raised_and_nothing_more_is_logged(
    connection: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement fails with others behind it (a user's row, then its mirrors): psycopg meets the
    error while it sends the rest, then again as the pipeline ends, and would log that second one."""
    taken = insert(users).values(_user("d", "ada", True))  # the key of Ada
    more = [(select(literal(n)), None) for n in range(50)]  # long enough for the error to come back meanwhile
    with pytest.raises(IntegrityError, match="user_name_key"), connection.begin():
        in_turn(connection, [(taken, None), *more])
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert rows(connection, select(func.count()).select_from(users))[0][0] == 2


def test_a_transaction_sent_whole_with_an_expanding_in_is_still_one_transaction(database_url: str) -> None:
    """An expanding IN runs through SQLAlchemy one statement at a time: the BEGIN waiting ahead goes
    first, so the statements before a failure are rolled back with it."""
    with migrated_engine(database_url) as engine:
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite sends no write ahead")
        with engine.begin() as connection:
            connection.execute(insert(users), [_user("a", "Ada", True)])
        prepared.keep_writes_ahead(engine)
        with begin_ahead(engine).connect() as connection:
            with pytest.raises(IntegrityError), connection.begin():
                carl = insert(users).values(_user("c", "Carl", True))
                gone = delete(users).where(users.c.id.in_(["x", "y"]))  # its SQL depends on its values
                prepared.ahead(connection, [(carl, None), (gone, None)], lambda _: None)
                taken = insert(users).values(_user("d", "ada", True))  # the key of Ada
                in_turn(connection, [(taken, None), (text("COMMIT"), None)])
        with engine.connect() as connection:
            assert connection.execute(select(users.c.id).order_by(users.c.id)).scalars().all() == ["a"]


def test_a_statement_is_prepared_once_per_connection_and_types_of_its_values(connection: Connection) -> None:
    """PostgreSQL (ADR 0074): each shape is prepared on the connection by its first run and serves
    every later one; a value of another type (an int too large for ``int2``) prepares it again."""
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite prepares in sqlite3's own statement cache")
    prepared_now = select(func.count()).select_from(text("pg_prepared_statements"))
    before = rows(connection, prepared_now)[0][0]
    shape = select(users.c.id).where(users.c.user_name_key == bindparam("key"))
    for key in ("ada", "bob", "ada", "nobody"):
        rows(connection, shape, {"key": key})
    assert (
        rows(connection, prepared_now)[0][0] == before + 1
    )  # ``prepared_now`` itself counts from its first run
    number = select(literal(1, BigInteger) + bindparam("n", type_=BigInteger))
    assert [rows(connection, number, {"n": n})[0][0] for n in (1, 2, 2**40)] == [2, 3, 2**40 + 1]
    assert rows(connection, prepared_now)[0][0] == before + 3  # one for int2, one for int8


def test_a_connection_keeps_its_most_recently_run_statements_prepared_and_closes_the_rest(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: past ``PREPARED_KEPT`` the least recently run is closed on the server, so that
    a client's many filter shapes cannot grow a backend's memory without end; run again, it is
    prepared again."""
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite prepares in sqlite3's own statement cache")
    from scimhub.store.sql import libpq  # noqa: PLC0415 - psycopg is an extra

    monkeypatch.setattr(libpq, "PREPARED_KEPT", 4)
    kept = (
        select(literal_column("statement"))
        .select_from(text("pg_prepared_statements"))
        .where(literal_column("name").like("scimhub%"))
    )
    shapes = [select(literal_column(f"{n}00") + bindparam("n", type_=BigInteger)) for n in range(1, 9)]
    for shape in shapes:
        rows(connection, shape, {"n": 1})
    held = sorted(r[0] for r in rows(connection, kept))  # the query itself is the fourth
    assert [sql.split()[1] for sql in held[:3]] == ["600", "700", "800"] and "pg_prepared" in held[3]
    assert [rows(connection, shape, {"n": 1})[0][0] for shape in shapes] == [n * 100 + 1 for n in range(1, 9)]
    assert len(rows(connection, kept)) == 4


def test_an_error_in_a_round_trip_leaves_what_was_prepared_usable(connection: Connection) -> None:
    """PostgreSQL: a statement prepared before the error serves again; one whose preparation the
    error skipped is prepared at its next run, not taken for prepared."""
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite prepares in sqlite3's own statement cache")
    ada = select(users.c.id).where(users.c.user_name_key == bindparam("key"))
    late = select(users.c.user_name).where(users.c.id == bindparam("id"))  # never run before: prepared after
    taken = insert(users).values(_user("d", "ada", True))  # the key of Ada
    with pytest.raises(IntegrityError), connection.begin():
        in_turn(connection, [(ada, {"key": "ada"}), (taken, None), (late, {"id": "a"})])
    found = in_turn(connection, [(ada, {"key": "bob"}), (late, {"id": "a"})])
    assert [[r[0] for r in f] for f in found] == [["b"], ["Ada"]]


def test_a_commit_that_fails_at_the_round_trips_end_is_the_transactions_error(connection: Connection) -> None:
    """PostgreSQL (ADR 0075): a transaction sent whole goes without BEGIN and COMMIT, and the round
    trip's Sync commits it. A commit that fails there (here a deferred constraint; under load, a
    lock not had in time) is raised as the error it is, the transaction undone, the connection fit
    for the next one. Found by an adversarial run: it was taken for a lost connection (a 503)."""
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite's writes do not go out in round trips")
    rows(connection, text("CREATE TEMPORARY TABLE parents (id int PRIMARY KEY)"))
    rows(
        connection,
        text("CREATE TEMPORARY TABLE children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED)"),
    )
    orphan = text("INSERT INTO children VALUES (1)")
    with pytest.raises(IntegrityError, match="children"):  # a write's whole transaction, as flush sends it
        in_turn(connection, [*prepared._BEGIN, (orphan, None), (prepared.COMMIT, None)])
    assert not connection.invalidated
    counted = select(func.count()).select_from(text("children"))
    assert rows(connection, counted)[0][0] == 0
    in_turn(
        connection,
        [
            *prepared._BEGIN,
            (text("INSERT INTO parents VALUES (1)"), None),
            (orphan, None),
            (prepared.COMMIT, None),
        ],
    )
    assert rows(connection, counted)[0][0] == 1


def test_a_connection_that_begins_its_own_transactions_still_runs_them_whole(database_url: str) -> None:
    """PostgreSQL outside autocommit (a tool's connection): psycopg's cursor begins the transaction,
    so what the statements wrote goes with its rollback."""
    with migrated_engine(database_url) as engine, engine.connect() as connection:
        with connection.begin() as transaction:
            rows(connection, insert(users).values(_user("c", "Carl", True)))
            assert rows(connection, select(func.count()).select_from(users))[0][0] == 1
            transaction.rollback()
        assert rows(connection, select(func.count()).select_from(users))[0][0] == 0


def test_a_literal_percent_sign_reaches_the_database_as_it_is(connection: Connection) -> None:
    """PostgreSQL's ``$1`` SQL takes ``%`` as it is (pyformat's would double it): a literal, a modulo."""
    assert rows(connection, select(literal_column("'50%'")))[0][0] == "50%"
    found = rows(connection, select(users.c.id, users.c.version % 2).order_by(users.c.id))
    assert [tuple(r) for r in found] == [("a", 1), ("b", 1)]


def test_a_driver_error_is_sqlalchemys(connection: Connection) -> None:
    with pytest.raises(IntegrityError), connection.begin():
        rows(connection, insert(users).values(_user("d", "ada", True)))  # the key of Ada, taken
    assert rows(connection, select(func.count()).select_from(users))[0][0] == 2


def test_a_lost_connection_is_an_outage_and_the_next_one_serves(fresh_postgres: str) -> None:
    """PostgreSQL only: a SQLite file has no connection to lose."""
    engine = make_engine(fresh_postgres)  # as the server makes it: outages watched (ADR 0029)
    try:
        with engine.connect() as victim, engine.connect() as killer:
            pid = rows(victim, select(func.pg_backend_pid()))[0][0]
            killer.execute(select(func.pg_terminate_backend(pid)))
            with pytest.raises(ServiceUnavailable):
                rows(victim, select(literal(1)))
        with engine.connect() as connection:
            assert rows(connection, select(literal(1)))[0][0] == 1
    finally:
        engine.dispose()


def test_a_client_side_failure_of_a_live_connection_drops_it(fresh_postgres: str) -> None:
    """PostgreSQL: an error without a SQLSTATE on an established connection (psycopg's "couldn't exit
    pipeline mode" when the server went away mid-pipeline, before libpq noticed) is an outage and
    drops the connection at once, so that the next request does not meet it again."""
    engine = make_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            rows(connection, select(literal(1)))
            failure = psycopg.OperationalError(
                "couldn't exit pipeline mode: cannot exit pipeline mode while busy"
            )
            with pytest.raises(ServiceUnavailable, match="connection lost"):
                connection._handle_dbapi_exception(failure, "SELECT 1", {}, None, None)
            assert connection.invalidated
    finally:
        engine.dispose()
