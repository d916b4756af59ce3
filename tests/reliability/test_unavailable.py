"""A database away or locked is a 503 with Retry-After, in SCIM's and the JSON API's shapes; a bug is not.

``store/sql/engine.py`` turns only unavailability into ``ServiceUnavailable``:
PostgreSQL refusing connections, SQLite locked beyond the busy timeout. An SQL
error of our own stays an internal error (500), so that a bug is never
disguised as an outage (ADR 0029).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.errors import ServiceUnavailable
from scimhub.scim.messages import ScimRequest
from scimhub.settings import Settings
from scimhub.store.sql import engine as engines
from scimhub.web.api.errors import error_reply
from scimhub.wiring import Services, build

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """Yield services on a SQLite file whose write lock another connection holds (busy timeout: 0.2 s)."""
    monkeypatch.setattr(engines, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "locked.db"
    services = build(Settings(database_url=f"sqlite:///{path}"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield services
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        services.close()


def test_sqlite_locked_beyond_the_busy_timeout_is_a_scim_503(locked: Services) -> None:
    """A write that waits out the busy timeout gets a SCIM Error 503 with Retry-After, not a 500."""
    body = orjson.dumps({"schemas": [USER], "userName": "waits"})
    response = locked.scim.handle(ScimRequest("POST", "/Users", "http://h/scim/v2", body=body, actor=SYSTEM))
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert (
        response.body is not None and response.body["schemas"] == [ERROR] and response.body["status"] == "503"
    )
    assert "scimType" not in response.body and "locked" in str(response.body["detail"])


def test_a_sqlite_lock_released_in_time_is_no_error(locked: Services, tmp_path: Path) -> None:
    """Reads go on while a writer holds the lock (WAL): only a write that waits too long is refused."""
    response = locked.scim.handle(ScimRequest("GET", "/Users", "http://h/scim/v2", actor=SYSTEM))
    assert response.status == 200


def test_the_json_api_answers_503_in_its_own_shape() -> None:
    """Under /api/v1 the same error is ``{"status": 503, "error": "serviceUnavailable", "detail"}``."""
    reply = error_reply(ServiceUnavailable("the database is unavailable (test)", 7))
    assert reply.status == 503 and reply.headers["Retry-After"] == "7"
    assert reply.body == {
        "status": 503,
        "error": "serviceUnavailable",
        "detail": "the database is unavailable (test)",
    }


def test_postgresql_refusing_connections_is_service_unavailable() -> None:
    """A PostgreSQL that refuses the connection is ServiceUnavailable at once, with the time to retry."""
    engine = engines.make_engine("postgresql+psycopg://postgres@127.0.0.1:9/nothing")
    try:
        with pytest.raises(ServiceUnavailable) as raised, engine.connect():
            pass
    finally:
        engine.dispose()
    assert raised.value.retry_after == engines.RETRY_AFTER_SECONDS


def test_an_sql_error_is_not_taken_for_an_outage(database_url: str) -> None:
    """A statement the database rejects stays a DBAPI error (a 500, a bug to fix), on both engines."""
    engine = engines.make_engine(database_url)
    try:
        with pytest.raises(DBAPIError), engine.connect() as connection:
            connection.execute(text("SELEC 1"))
    finally:
        engine.dispose()


def test_a_postgresql_deadlock_is_a_503_to_retry_not_a_500(fresh_postgres: str) -> None:
    """The deadlock's victim was undone whole by the server, so it is answered 503 + Retry-After: 1."""
    engine = engines.make_engine(fresh_postgres)
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (id int PRIMARY KEY, v int)"))
        setup.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    first, second = engine.connect(), engine.connect()
    try:
        first.begin(), second.begin()
        first.execute(text("UPDATE t SET v = 1 WHERE id = 1"))
        second.execute(text("UPDATE t SET v = 2 WHERE id = 2"))
        outcome: list[BaseException] = []

        def cross() -> None:
            try:
                first.execute(text("UPDATE t SET v = 1 WHERE id = 2"))  # waits for ``second``
            except BaseException as error:  # noqa: BLE001 - the deadlock's victim may be either side
                outcome.append(error)

        waiter = threading.Thread(target=cross)
        waiter.start()
        time.sleep(0.2)  # let ``first`` wait before ``second`` closes the cycle
        try:
            second.execute(text("UPDATE t SET v = 2 WHERE id = 1"))
        except BaseException as error:  # noqa: BLE001
            outcome.append(error)
        second.rollback()
        waiter.join(30)
        first.rollback()
        assert len(outcome) == 1 and isinstance(outcome[0], ServiceUnavailable), outcome
        assert outcome[0].retry_after == engines.RETRY_COLLISION_SECONDS
    finally:
        first.close(), second.close()
        engine.dispose()


def test_a_write_the_disk_refuses_is_a_503_not_a_500(tmp_path: Path) -> None:
    """A full disk (here SQLite's page limit, which answers SQLITE_FULL as a full disk does) is no
    fault of the request: the write in a core thread, as a bulk or a hop runs it, gets a 503."""
    services = build(Settings(database_url=f"sqlite:///{tmp_path}/full.db"))
    try:
        with services.engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        event.listen(
            services.engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages}")
        )
        services.engine.dispose()  # every connection from here on has the limit
        services.store.close()
        store = type(services.store)(services.engine)
        with pytest.raises(ServiceUnavailable, match="the disk is full"):
            for n in range(200):
                Users(store, lambda: 1_000_000).create(
                    SYSTEM, UserEdit({"userName": f"u{n}", "title": "x" * 2000})
                )
        store.close()
    finally:
        services.close()
