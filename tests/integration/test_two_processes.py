"""Revocation and suspension bite at once on every process: two servers share one database.

Process A takes the changes (the CLI revokes, A's SCIM endpoint suspends and
reactivates); process B, which accepted the token a moment before, must refuse
it on its very next request, because every request reads the token's hash and
its user's state from the database (no cache; DataHub's takes five minutes). On
PostgreSQL a GET reads it in the round trip of its work's first statement (ADR
0083): a lookup's, a page's, or alone when the work reads nothing (discovery). That last
check meeting a connection PostgreSQL dropped is a 503 or the answer, never a 500. A write's
first statement checks it in the server, and fails whole when it no longer holds (ADR 0084):
the write is refused, and nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from scimhub.store.sql.events import COMMIT_ORDER_LOCK
from tests.databases import wait_for_an_advisory_lock_waiter
from tests.integration.conftest import SCIM, running_server, scimhub
from tests.integration.test_token_logs import issue, token_id

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@contextmanager
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Run two `scimhub serve` processes on one database; yield their URLs."""
    with running_server(database_url, tmp_path / "a.log") as (first, a):
        with running_server(database_url, tmp_path / "b.log") as (second, b):
            yield a, b


@contextmanager
def a_robot_on_b(database_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, str, httpx.Client]]:
    """Two servers; yield the admin's client on A, the id of a user "robot" with the Admin role, and
    a client on B with the robot's token."""
    admin_token = issue(database_url, "admin")
    with servers(database_url, tmp_path) as (a, b), client(a, admin_token) as on_a:
        robot = on_a.post("/Users", json={"userName": "robot", "roles": [{"value": "Admin"}]}).json()
        robot_token = issue(database_url, "robot", "--user", "robot")
        with client(b, robot_token) as robot_on_b:
            yield on_a, robot["id"], robot_on_b


def drop_connections(database_url: str) -> None:
    """Have PostgreSQL drop every other connection to the database: the servers'."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        engine.dispose()


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url + SCIM, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def set_roles(http: httpx.Client, user_id: str, roles: list[dict[str, str]]) -> None:
    operations = [{"op": "replace", "path": "roles", "value": roles}]
    response = http.patch(f"/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": operations})
    assert response.status_code == 200, response.text


def set_active(http: httpx.Client, user_id: str, active: bool) -> None:
    operations = [{"op": "replace", "path": "active", "value": active}]
    response = http.patch(f"/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": operations})
    assert response.status_code == 200, response.text


GETS = ["/Users?count=1", '/Users?filter=userName eq "admin"', "/Me", "/ServiceProviderConfig"]
"""A page, a lookup (one lone statement), a read by the token's own user, and discovery (no statement)."""


@pytest.mark.parametrize("path", GETS)
def test_a_revoked_token_is_refused_by_the_other_process_at_once(
    database_url: str, tmp_path: Path, path: str
) -> None:
    """Revoked with the CLI, a token B accepted a moment ago gets 401 on B's next request, and on A's."""
    token = issue(database_url, "shared")
    with servers(database_url, tmp_path) as (a, b), client(a, token) as on_a, client(b, token) as on_b:
        for _ in range(3):  # whatever B keeps of the credential, it has kept it now
            assert on_b.get(path).status_code == 200
        assert on_a.get(path).status_code == 200
        scimhub("token", "revoke", token_id(database_url, "shared"), database_url=database_url)
        refused = on_b.get(path)
        assert refused.status_code == 401 and refused.json()["detail"] == "the bearer token has been revoked"
        assert on_a.get(path).status_code == 401


@pytest.mark.parametrize("who", ["admin", "reader"])
def test_a_get_whose_credential_check_meets_a_dropped_connection_is_no_500(
    database_url: str, tmp_path: Path, who: str
) -> None:
    """PostgreSQL dropped the server's connections (a restart, a proxy's idle timeout): the next GET is
    answered, or a SCIM 503 with Retry-After, never a 500 (found by an adversarial run of ADR 0083).

    Discovery reads nothing, and a Reader's lookup is refused from the roles before it reads: the
    credential's check is the work's first use of the dropped connection, when the work ends.
    """
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite connection is a file, not a server's")
    path, answered = ("/ServiceProviderConfig", 200) if who == "admin" else ("/Users?count=1", 403)
    admin_token = issue(database_url, "admin")
    with running_server(database_url, tmp_path / "server.log") as (_, url), client(url, admin_token) as admin:
        token = admin_token
        if who == "reader":
            admin.post(
                "/Users", json={"userName": "reader", "roles": [{"value": "Reader"}]}
            ).raise_for_status()
            token = issue(database_url, "reader", "--user", "reader")
        http = client(url, token)
        for _ in range(3):  # the credential kept
            assert http.get(path).status_code == answered
        drop_connections(database_url)
        after = http.get(path)
        assert after.status_code in (answered, 503), after.text
        if after.status_code == 503:
            assert after.json()["status"] == "503" and int(after.headers["Retry-After"]) > 0
        assert http.get(path).status_code == answered
        http.close()


def test_a_role_taken_on_one_process_refuses_the_lookup_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    """The robot's Admin role removed on A: B's next lookup with its token is 403, given back it is 200."""
    lookup = '/Users?filter=userName eq "robot"'
    with a_robot_on_b(database_url, tmp_path) as (on_a, robot_id, robot_on_b):
        assert [robot_on_b.get(lookup).status_code for _ in range(3)] == [200] * 3
        set_roles(on_a, robot_id, [])
        refused = robot_on_b.get(lookup)
        assert refused.status_code == 403, refused.text
        set_roles(on_a, robot_id, [{"value": "Admin"}])
        assert robot_on_b.get(lookup).status_code == 200


def test_suspending_the_tokens_user_on_one_process_bites_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    """A's SCIM suspends the token's user: B refuses the token at once; reactivated, B accepts it again."""
    with a_robot_on_b(database_url, tmp_path) as (on_a, robot_id, robot_on_b):
        assert robot_on_b.get("/Users?count=1").status_code == 200
        set_active(on_a, robot_id, False)
        refused = robot_on_b.get("/Users?count=1")
        assert refused.status_code == 401 and "suspended" in refused.json()["detail"]
        set_active(on_a, robot_id, True)
        assert robot_on_b.get("/Users?count=1").status_code == 200


WRITES = ["create", "patch", "delete"]


def _write(http: httpx.Client, kind: str, target_id: str) -> httpx.Response:
    if kind == "create":
        return http.post("/Users", json={"userName": "written.anyway"})
    if kind == "patch":
        operations = [{"op": "replace", "path": "title", "value": "written anyway"}]
        return http.patch(f"/Users/{target_id}", json={"schemas": [PATCH_OP], "Operations": operations})
    return http.delete(f"/Users/{target_id}")


def _untouched(on_a: httpx.Client, target_id: str) -> None:
    """Nothing B was refused is written: no new user, the target as it was."""
    assert on_a.get('/Users?filter=userName eq "written.anyway"').json()["totalResults"] == 0
    target = on_a.get(f"/Users/{target_id}")
    assert target.status_code == 200 and "title" not in target.json()


@pytest.mark.parametrize("change", ["revoke", "take the role"])
@pytest.mark.parametrize("kind", WRITES)
def test_a_write_after_a_change_on_the_other_process_is_refused_and_writes_nothing(
    database_url: str, tmp_path: Path, kind: str, change: str
) -> None:
    """The token revoked by the CLI (a 401) or its user's Admin role taken on A (a 403), after B kept
    the credential: B's next write is refused, and nothing of it is written."""
    with a_robot_on_b(database_url, tmp_path) as (on_a, robot_id, robot_on_b):
        target_id = on_a.post("/Users", json={"userName": "target"}).json()["id"]
        for i in range(3):  # whatever B keeps of the credential, it has kept it now, writes included
            assert robot_on_b.post("/Users", json={"userName": f"warm.{i}"}).status_code == 201
        if change == "revoke":
            scimhub("token", "revoke", token_id(database_url, "robot"), database_url=database_url)
        else:
            set_roles(on_a, robot_id, [])
        refused = _write(robot_on_b, kind, target_id)
        assert refused.status_code == (401 if change == "revoke" else 403), refused.text
        if change == "revoke":
            assert refused.json()["detail"] == "the bearer token has been revoked"
        _untouched(on_a, target_id)
        if change != "revoke":  # given back, the role lets the same write through
            set_roles(on_a, robot_id, [{"value": "Admin"}])
            assert _write(robot_on_b, kind, target_id).status_code in (200, 201, 204)


def test_a_revocation_waits_behind_a_write_that_waits_for_the_commit_order_lock(
    database_url: str, tmp_path: Path
) -> None:
    """The write meets the lock on the loop, moves to a core thread and waits there; a revocation begun
    meanwhile takes the same lock (ADR 0086), and waits behind it. The write commits first (a 201),
    then the revocation, and the next request is a 401. Before, the revocation committed while the
    write waited, and the write's check after the lock refused it (found by an adversarial run of
    ADR 0084, where such writes committed after the revocation)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writers wait for its file lock, not for PostgreSQL's commit-order lock")
    token = issue(database_url, "waiting")
    revoke = ["token", "revoke", token_id(database_url, "waiting")]
    engine = create_engine(database_url)
    try:
        with running_server(database_url, tmp_path / "server.log") as (_, url), client(url, token) as http:
            assert http.post("/Users", json={"userName": "warm"}).status_code == 201  # the credential kept
            with engine.connect() as holder, ThreadPoolExecutor(2) as pool:
                holder.exec_driver_sql(f"SELECT pg_advisory_lock({COMMIT_ORDER_LOCK})")
                waiting = pool.submit(http.post, "/Users", json={"userName": "before.the.revocation"})
                # Longer than the event loop's brief wait (ADR 0058): the write waits in a core thread.
                wait_for_an_advisory_lock_waiter(engine, waited=0.2, gave_up=waiting.done)
                revoking = pool.submit(scimhub, *revoke, database_url=database_url)
                wait_for_an_advisory_lock_waiter(engine, count=2, gave_up=revoking.done)
                holder.exec_driver_sql(f"SELECT pg_advisory_unlock({COMMIT_ORDER_LOCK})")
                written = waiting.result(timeout=30)
                revoking.result(timeout=30)
            assert written.status_code == 201, written.text
            assert http.post("/Users", json={"userName": "after.the.revocation"}).status_code == 401
        with engine.connect() as connection:
            names = "SELECT user_name FROM users WHERE user_name LIKE '%%the.revocation'"
            assert connection.exec_driver_sql(names).scalars().all() == ["before.the.revocation"]
    finally:
        engine.dispose()
