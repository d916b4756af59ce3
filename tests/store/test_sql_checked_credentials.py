"""PostgreSQL answers a credential from memory within a check, and checks it with the work (ADR 0083, 0084).

Two stores on one database stand for two processes. What each test pins, on PostgreSQL:
- within ``checking_credentials`` a credential read before costs no round trip, and its statement
  goes out first in the round trip of the next lone read;
- a revocation, a suspension or a role taken away in between is found there: the read's rows are
  not returned, ``CredentialChanged`` is raised and the check says ``changed``;
- a write's commit checks it in the server, in the same round trip, after the commit-order lock:
  a write under a revoked token, a suspended user or a role taken away fails whole, and nothing is
  written, even when the change came while the write waited for the lock;
- in a ``fresh`` check (the run again) a write's credential is read apart from its own rows, once
  its locks are held and before its ``COMMIT``: a write of its own credential passes, a change
  committed meanwhile is still refused, and none can commit between that read and the commit;
  a revocation takes the commit-order lock as every other change to a credential does (ADR 0086);
- a check no statement carried is settled when the scope ends, a change (or the database away)
  told by ``unconfirmed`` alone;
- outside a check, and for a hash no token has, every credential is read.
On SQLite a check never changes anything: ``test_sql_kept_credentials.py`` pins its credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.domain.roles import Role
from scimhub.errors import Uniqueness
from scimhub.store import records
from scimhub.store.contract import CredentialChanged
from scimhub.store.records import TokenRecord
from scimhub.store.sql import credentials, events, prepared, tokens
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from scimhub.store.sql.tables import users
from tests.databases import wait_for_an_advisory_lock_waiter
from tests.store.contract_store import make_user

HASH = "hash-1"


@pytest.fixture
def there(engine: Engine) -> Iterator[SqlStore]:
    """Another process's store on the same database."""
    other = SqlStore(make_engine(engine.url.render_as_string(hide_password=False)))
    yield other
    other.close()
    other.engine.dispose()


@pytest.fixture
def user_id(store: SqlStore, engine: Engine) -> str:
    """A user with the Admin role and a token, whose credential this process has read once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps a credential only while nothing was committed (ADR 0059)")
    user = make_user("robot")
    with store.transaction() as tx:
        tx.users.insert(user)
        tx.roles.assign("user", user.id, Role.ADMIN)
        tx.tokens.insert(TokenRecord("t1", HASH, "ci", None, user.id, None, 5, None, None))
    assert store.credential(HASH) is not None
    return user.id


@pytest.fixture
def round_trips(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each round trip of ``store`` from now on (not another's), as its statements: credential or other."""
    trips: list[list[str]] = []
    sent = prepared._run

    def counted(connection: Any, runs: Any) -> list[list[Any]]:
        if connection.engine.pool is not store.engine.pool:
            return sent(connection, runs)
        names = {tokens.CREDENTIAL: "credential", tokens.CREDENTIAL_HOLDS: "holds"}
        trips.append([names.get(plan.compiled.statement, "other") for plan, _, _ in runs])
        return sent(connection, runs)

    monkeypatch.setattr(prepared, "_run", counted)
    return trips


def _lookup(store: SqlStore, user_name: str) -> str:
    """Find a user by userName as a SCIM lookup does: one lone statement (ADR 0057)."""
    return Users(store, lambda: 1_000_000).find(user_name).user.user_name


def _user_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(users.c.user_name)).scalars())


@pytest.mark.usefixtures("user_id")
def test_the_credential_is_answered_from_memory_and_read_again_with_the_lookup(
    store: SqlStore, round_trips: list[list[str]]
) -> None:
    with store.checking_credentials() as check:
        found = store.credential(HASH)
        assert found is not None and found.roles == ("Admin",)
        assert round_trips == []
        assert _lookup(store, "robot") == "robot"
    assert round_trips == [["credential", "other"]]  # one round trip, the credential's statement first
    assert not check.unconfirmed


@pytest.mark.parametrize("change", ["revoke", "suspend", "take the role"])
def test_a_change_in_between_is_found_by_the_lookup_whose_rows_are_not_returned(
    store: SqlStore, there: SqlStore, user_id: str, change: str
) -> None:
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        _change(there, user_id, change)
        with pytest.raises(CredentialChanged):
            _lookup(store, "robot")
    assert check.unconfirmed
    _read_as_changed(store, change)


def _change(there: SqlStore, user_id: str, change: str) -> None:
    """Make ``change`` to the token's credential through another process's store."""
    with there.transaction() as tx:
        if change == "revoke":
            tx.tokens.revoke("t1", 11)
        elif change == "suspend":
            user = tx.users.get(user_id)
            assert user is not None
            tx.users.update(replace(user, doc={**user.doc, "active": False}))
        else:
            tx.roles.unassign("user", user_id, Role.ADMIN)


def _read_as_changed(store: SqlStore, change: str) -> None:
    """Outside a check the credential is read, as it now stands after ``change``."""
    again = store.credential(HASH)
    if change == "revoke":
        assert again is None
    else:
        assert again is not None and (again.roles, again.active) == (
            ((), True) if change != "suspend" else (("Admin",), False)
        )


@pytest.mark.parametrize("change", ["revoke", "suspend", "take the role"])
def test_a_write_under_a_credential_changed_in_between_fails_whole(
    store: SqlStore, there: SqlStore, engine: Engine, user_id: str, round_trips: list[list[str]], change: str
) -> None:
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        _change(there, user_id, change)
        with pytest.raises(CredentialChanged):
            Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "written.anyway"}))
    assert check.unconfirmed
    assert round_trips[0][-1] == "holds"  # last before the commit, in the write's one round trip
    assert len(round_trips) == 1  # and nothing read alone at the end: the check was answered
    assert _user_names(engine) == ["robot"]
    _read_as_changed(store, change)


@pytest.mark.usefixtures("user_id")
def test_a_write_checks_the_credential_in_its_own_round_trip_and_writes_when_it_holds(
    store: SqlStore, engine: Engine, round_trips: list[list[str]]
) -> None:
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "written"}))
    assert not check.unconfirmed
    assert len(round_trips) == 1 and round_trips[0][-1] == "holds"  # one round trip for all, and no other
    assert "credential" not in round_trips[0]
    assert _user_names(engine) == ["robot", "written"]


def test_a_write_that_reads_first_checks_at_its_commit_and_writes_nothing(
    store: SqlStore, there: SqlStore, engine: Engine, user_id: str, round_trips: list[list[str]]
) -> None:
    """A PATCH reads its row first (``BEGIN`` and the read in one round trip); the check goes with the
    rows it writes and the ``COMMIT``, and fails them whole."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        _change(there, user_id, "revoke")
        with pytest.raises(CredentialChanged), store.transaction() as tx:
            user = tx.users.get(user_id)
            assert user is not None
            tx.users.update(replace(user, doc={**user.doc, "title": "written anyway"}))
    assert check.unconfirmed
    assert len(round_trips) == 2 and round_trips[0] == ["other", "other"]  # the BEGIN and the read
    assert round_trips[1][-2:] == ["holds", "other"]  # the row and its mirrors, the check, the COMMIT
    with store.read() as tx:
        stored = tx.users.get(user_id)
        assert stored is not None and "title" not in stored.doc


def test_a_write_that_would_give_back_a_role_taken_meanwhile_is_refused(
    store: SqlStore, there: SqlStore, user_id: str, round_trips: list[list[str]]
) -> None:
    """Begun, the write reads first (a PUT reads its row, and may wait there for its lock); the role is
    taken meanwhile; its own rows would give the role back. The check at the commit sees them and
    would let it pass: the one sent before them refuses it (found by an adversarial run)."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with pytest.raises(CredentialChanged), store.transaction() as tx:
            user = tx.users.get(user_id)
            assert user is not None
            _change(there, user_id, "take the role")
            tx.users.update(replace(user, doc={**user.doc, "roles": [{"value": "Admin"}]}))
    assert check.unconfirmed
    assert round_trips[-1][0] == "holds"  # first in the commit's round trip, before the rows
    _read_as_changed(store, "take the role")


@pytest.mark.parametrize("fresh", [False, True])
def test_a_write_that_waited_for_the_commit_order_lock_is_checked_after_it(
    store: SqlStore, there: SqlStore, engine: Engine, user_id: str, round_trips: list[list[str]], fresh: bool
) -> None:
    """The role taken while the write waited for another transaction's commit (a core thread waits as
    long as it must, ADR 0058): the check, after the lock, sees it (found by an adversarial run). So
    it does in a ``fresh`` check, the run again after a refused one: read first, yet still checked.
    The store's own role rows take no lock here; the directory's change appends events, which do."""
    outcome: dict[str, bool] = {}

    def create() -> None:
        with store.checking_credentials(fresh=fresh) as check:
            assert store.credential(HASH) is not None
            try:
                Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "waited"}))
            except CredentialChanged:
                outcome["refused"] = True
        outcome["unconfirmed"] = check.unconfirmed

    with engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({events.COMMIT_ORDER_LOCK})")
        writer = threading.Thread(target=create)
        writer.start()
        wait_for_an_advisory_lock_waiter(engine)
        _change(there, user_id, "take the role")
        holder.exec_driver_sql(f"SELECT pg_advisory_unlock({events.COMMIT_ORDER_LOCK})")
    writer.join(timeout=30)
    assert outcome == {"refused": True, "unconfirmed": True}
    assert _user_names(engine) == ["robot"]
    assert (round_trips[0] == ["credential"]) is fresh  # fresh: read, not answered from memory


def test_a_revocation_takes_the_commit_order_lock(
    store: SqlStore, there: SqlStore, engine: Engine, user_id: str
) -> None:
    """As every change to a credential does by its events: none commits while a write is between its
    check and its commit (ADR 0086)."""
    revoking = threading.Thread(target=_change, args=(there, user_id, "revoke"))
    with engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({events.COMMIT_ORDER_LOCK})")
        revoking.start()
        wait_for_an_advisory_lock_waiter(engine)
        assert store.credential(HASH) is not None  # not revoked while the lock is held elsewhere
        holder.exec_driver_sql(f"SELECT pg_advisory_unlock({events.COMMIT_ORDER_LOCK})")
    revoking.join(timeout=30)
    assert store.credential(HASH) is None


def _rename_and_unrole(store: SqlStore, user_id: str, user_name: str) -> None:
    """A write of one's own credential: a new userName, the Admin role given up."""
    with store.transaction() as tx:
        user = tx.users.get(user_id)
        assert user is not None
        tx.users.update(replace(user, doc={**user.doc, "userName": user_name}))
        tx.roles.unassign("user", user_id, Role.ADMIN)


def test_a_write_of_its_own_credential_fails_its_check_but_passes_a_fresh_one(
    store: SqlStore, engine: Engine, user_id: str, round_trips: list[list[str]]
) -> None:
    """Checked at its commit, the write sees its own rows: the credential no longer holds. In a
    ``fresh`` check it is read on another connection once the rows and the commit-order lock are in,
    before the ``COMMIT`` goes alone: the write's own rows are not seen, and it commits (ADR 0086)."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with pytest.raises(CredentialChanged):
            _rename_and_unrole(store, user_id, "robot.renamed")
    assert check.unconfirmed and _user_names(engine) == ["robot"]
    round_trips.clear()
    with store.checking_credentials(fresh=True) as check:
        assert store.credential(HASH) is not None
        _rename_and_unrole(store, user_id, "robot.renamed")
    assert not check.unconfirmed and _user_names(engine) == ["robot.renamed"]
    assert round_trips[0] == ["credential"] and round_trips[-2:] == [["credential"], ["other"]]
    assert "holds" not in {statement for trip in round_trips for statement in trip}


def test_a_fresh_check_refuses_a_write_that_would_give_back_a_role_taken_meanwhile(
    store: SqlStore, there: SqlStore, user_id: str
) -> None:
    """The run again of a write of one's own credential (a new userName and the Admin role kept) read
    its row first; the role is taken meanwhile. Read apart before the commit, the credential no longer
    holds: nothing is written (found by an adversarial run, when that run went unchecked)."""
    with store.checking_credentials(fresh=True) as check:
        assert store.credential(HASH) is not None
        with pytest.raises(CredentialChanged), store.transaction() as tx:
            user = tx.users.get(user_id)
            assert user is not None
            _change(there, user_id, "take the role")
            doc = {**user.doc, "userName": "robot.renamed", "roles": [{"value": "Admin"}]}
            tx.users.update(replace(user, doc=doc))
            tx.roles.assign("user", user_id, Role.ADMIN)
    assert check.unconfirmed
    _read_as_changed(store, "take the role")


@pytest.mark.parametrize("write", ["create a user", "issue a token"])
def test_no_change_commits_between_a_fresh_check_and_its_commit(
    store: SqlStore,
    there: SqlStore,
    engine: Engine,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    write: str,
) -> None:
    """A revocation begun while the write reads its credential apart waits for the commit-order lock
    the write holds: the write commits first, then the revocation (ADR 0086). So it does for a write
    that appends no event, a token issued (found by an adversarial run)."""
    revoking = threading.Thread(target=_change, args=(there, user_id, "revoke"))
    read = credentials.read_credential

    def read_while_revoking(connection: Any, hash: str) -> Any:
        monkeypatch.setattr(credentials, "read_credential", read)  # once: the write's own check
        revoking.start()
        wait_for_an_advisory_lock_waiter(engine)
        return read(connection, hash)

    with store.checking_credentials(fresh=True) as check:
        assert store.credential(HASH) is not None
        monkeypatch.setattr(credentials, "read_credential", read_while_revoking)
        if write == "create a user":
            Users(store, lambda: 1_000_000).create(SYSTEM, UserEdit({"userName": "before.the.revocation"}))
        else:
            with store.transaction() as tx:
                tx.tokens.insert(TokenRecord("t2", "hash-2", "ci", None, user_id, None, 6, None, None))
    revoking.join(timeout=30)
    assert not check.unconfirmed
    assert store.credential(HASH) is None
    with store.read() as tx:
        written = tx.users.get_by_name("before.the.revocation") or tx.tokens.get("t2")
    assert written is not None


@pytest.mark.usefixtures("user_id")
def test_a_fresh_check_takes_its_second_connection_with_its_credential(store: SqlStore) -> None:
    """With the credential, first thing: waited for under the commit-order lock, the pool could run dry
    of connections held by works waiting for that lock (found by an adversarial run)."""
    with store.checking_credentials(fresh=True) as check:
        taken = store.engine.pool.checkedout()  # type: ignore[attr-defined]
        assert store.credential(HASH) is not None
        assert store.engine.pool.checkedout() == taken + 1  # type: ignore[attr-defined]
        assert check.apart is not None  # type: ignore[attr-defined]
    assert store.engine.pool.checkedout() == taken  # type: ignore[attr-defined]


@pytest.mark.usefixtures("user_id")
def test_a_write_that_fails_otherwise_leaves_the_check_to_the_end(
    store: SqlStore, round_trips: list[list[str]]
) -> None:
    """A name taken fails the write's round trip after the check ran: unanswered, it is read at the end."""
    users_ = Users(store, lambda: 1_000_000)
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with pytest.raises(Uniqueness):
            users_.create(SYSTEM, UserEdit({"userName": "robot"}))
    assert not check.unconfirmed
    assert round_trips[0][-1] == "holds" and round_trips[-1] == ["credential"]


@pytest.mark.usefixtures("user_id")
def test_a_check_settled_alone_while_one_was_queued_with_a_lone_read_is_compared_once(
    store: SqlStore, round_trips: list[list[str]]
) -> None:
    """Within a lone read, before its statement, the work uses the store otherwise: the check goes
    alone then, and the copy queued with the read's statement finds nothing left to compare."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with store.read(one_statement=True) as tx:
            with store.read() as other:  # on another connection: the lone one is in use
                assert other.users.get_by_name("robot") is not None
            assert tx.users.get_by_name("robot") is not None
    assert not check.unconfirmed
    assert round_trips[0] == ["credential"] and round_trips[-1] == ["credential", "other"]


@pytest.mark.parametrize("revoked", [False, True])
def test_a_check_no_statement_carried_is_settled_when_the_check_ends(
    store: SqlStore, there: SqlStore, user_id: str, round_trips: list[list[str]], revoked: bool
) -> None:
    """Work that reads nothing (a discovery endpoint), or a lone read that sent no statement."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with store.read(one_statement=True) as tx:
            connection = tx.connection
            assert len(connection.info[prepared._AHEAD]) == 1  # to go out with the read's statement
        assert not connection.info.get(prepared._AHEAD)  # withdrawn when none went: still pending
        if revoked:
            with there.transaction() as tx:
                tx.tokens.revoke("t1", 11)
        assert round_trips == []
    assert check.unconfirmed is revoked  # told, not raised: the check's end is no place for an exception
    assert round_trips == [["credential"]]


def test_a_check_the_database_cannot_answer_at_the_end_is_told_not_raised(
    engine: Engine, database_url: str, user_id: str
) -> None:
    """The connection dropped (PostgreSQL restarted, a proxy's idle timeout): the work's outcome is
    dropped and the request run again, reading first, where it is a 503 as any request then is; at
    the check's end it would have escaped every handler as a 500 (found by an adversarial run)."""
    served = SqlStore(make_engine(database_url))  # the server's engine: a dropped connection is a 503
    try:
        assert served.credential(HASH) is not None
        with served.checking_credentials() as check:
            assert served.credential(HASH) is not None  # from memory: nothing sent
            with engine.connect() as admin:
                admin.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        assert check.unconfirmed
        assert served.credential(HASH) is not None  # outside a check: read, on a new connection
    finally:
        served.close()
        served.engine.dispose()


@pytest.mark.usefixtures("user_id")
def test_outside_a_check_and_for_an_unknown_hash_every_credential_is_read(
    store: SqlStore, round_trips: list[list[str]]
) -> None:
    assert store.credential(HASH) is not None and store.credential(HASH) is not None
    with store.checking_credentials():
        assert store.credential("guess") is None
    with store.checking_credentials():
        assert store.credential("guess") is None
    assert round_trips == [["credential"]] * 4


def test_what_a_process_keeps_is_bounded(
    store: SqlStore, user_id: str, round_trips: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "KEPT_CREDENTIALS", 1)
    with store.transaction() as tx:
        tx.tokens.insert(TokenRecord("t2", "hash-2", "ci", None, user_id, None, 5, None, None))
    round_trips.clear()
    assert store.credential("hash-2") is not None  # the memory was full (HASH): emptied, then hash-2 kept
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None  # read: no longer kept
    assert not check.unconfirmed
    assert round_trips == [["credential"], ["credential"]]  # and nothing left to check at the end


def test_a_credential_grants_as_another_whatever_its_last_use_name_and_roles_order() -> None:
    kept = records.Credential(
        "t1", None, 5, "u1", "urn:li:corpuser:robot", "robot", True, ("Admin", "Reader")
    )
    assert kept.grants_as(replace(kept, last_used=99, roles=("Reader", "Admin", "Admin")))
    assert kept.grants_as(replace(kept, user_name="renamed"))  # the actor is its id and URN (ADR 0086)
    for changed in (
        replace(kept, token_id="t2"),
        replace(kept, expires=10),
        replace(kept, user_id="u2"),
        replace(kept, urn="urn:li:corpuser:other"),
        replace(kept, active=False),
        replace(kept, roles=("Admin",)),
    ):
        assert not kept.grants_as(changed)


@pytest.mark.usefixtures("user_id")
def test_a_write_renaming_its_own_user_passes_its_check(store: SqlStore, engine: Engine) -> None:
    """No decision reads a credential's userName: a rename of one's own commits at the first run."""
    with store.checking_credentials() as check:
        assert store.credential(HASH) is not None
        with store.transaction() as tx:
            user = tx.users.get_by_name("robot")
            assert user is not None
            tx.users.update(replace(user, doc={**user.doc, "userName": "robot.renamed"}))
    assert not check.unconfirmed and _user_names(engine) == ["robot.renamed"]
