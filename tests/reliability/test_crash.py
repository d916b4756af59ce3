"""Kill -9 under a write load, on both engines: the short version of ``bench/crash.py`` that CI runs.

Two rounds per engine of a few seconds of load each (PostgreSQL with two
server processes, the whole process group killed), then the same checks as the
full rehearsal: every acknowledged write there with its events, the write in
flight wholly applied or wholly absent, SQLite's integrity check clean, the
DataHub push caught up from its checkpoint. And the checks themselves are shown
to catch what they look for: an event lost, half a PATCH, an orphan member.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import crash
from bench.crash_checks import Tally, check_client, check_database
from bench.crash_load import Client
from sqlalchemy import Connection, create_engine, delete, insert, select

from scimhub.domain.users import user_urn
from scimhub.store.sql.tables import events, group_members, users
from tests.datahub.gms import StandInGms

SHORT = ["--rounds", "2", "--clients", "3", "--min-load", "1", "--max-load", "3", "--seed", "11"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_crashes_lose_nothing(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Two kill -9 rounds leave every acknowledged write with its events, and nothing half-applied."""
    options = ["--backend", backend, *SHORT]
    if backend == "postgresql":
        options += ["--postgres-url", request.getfixturevalue("postgres_admin_url")]
    tally = crash.run_engine(backend, crash.parse(options), tmp_path)
    assert tally.violations == []
    assert tally.rounds == 2
    assert tally.acknowledged > 0 and tally.checked == tally.acknowledged
    assert tally.applied + tally.absent + tally.refused == 2 * 3  # every client's last write, settled


@pytest.fixture
def crashed(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Yield an engine on a SQLite database one crash round wrote, and that round's clients."""
    url = f"sqlite:///{tmp_path}/crashed.db"
    admin, gms = crash.token(url), StandInGms()
    try:
        server = crash.Server(url, 1, gms, tmp_path / "serve.log")
        clients = [Client(f"tamper-c{i}", i) for i in range(2)]
        crash.load(server.url, admin, clients, 3.0, server)  # long enough for member adds
    finally:
        gms.close()
    engine = create_engine(url)
    yield engine, clients
    engine.dispose()


def _acknowledged(client: Client, kind: str) -> list:  # type: ignore[type-arg]
    return [o.write for o in client.outcomes if o.acknowledged and o.write.kind == kind]


def _damage_a_membership(connection: Connection, clients: list[Client]) -> Client:
    """Delete one member row of a client's group, or, if the kill left both groups empty (the load's
    removes and deletes can undo its adds), add one for a live user; return the client damaged."""
    groups = {c.group_id: c for c in clients}
    row = connection.execute(select(group_members).where(group_members.c.group_id.in_(groups))).first()
    if row is not None:
        connection.execute(delete(group_members).where(group_members.c.member_id == row.member_id))
        return groups[row.group_id]
    client = clients[0]
    live = set(connection.execute(select(users.c.id)).scalars())
    member_id = next(client.ids[n] for n in sorted(client.model.users) if client.ids.get(n) in live)
    connection.execute(
        insert(group_members).values(group_id=client.group_id, member_id=member_id, member_type="User")
    )
    return client


def test_checks_find_a_lost_event_half_a_patch_and_an_orphan(crashed) -> None:  # type: ignore[no-untyped-def]
    """The checks pass on what the crash left, then fail on each kind of damage done to it."""
    engine, clients = crashed
    clean = Tally()
    for client in clients:
        check_client(engine, client, clean)
    assert clean.violations == [] and check_database(engine) == []
    client = clients[0]
    created = _acknowledged(client, "create")[0].names[0]
    with engine.begin() as connection:  # the CREATE event of an acknowledged user goes missing
        seq = connection.execute(
            select(events.c.seq).where(events.c.entity_urn == user_urn(created))
        ).scalars()
        connection.execute(delete(events).where(events.c.seq == min(seq)))
    lost = Tally()
    check_client(engine, client, lost)
    assert any(user_urn(created) in v for v in lost.violations), lost.violations
    with engine.begin() as connection:  # half a PATCH: a member row goes, or one no PATCH wrote comes
        patched = _damage_a_membership(connection, clients)
    half = Tally()
    check_client(engine, patched, half)
    assert any("members" in v for v in half.violations), half.violations
    with engine.begin() as connection:  # a membership row whose user is gone
        connection.execute(
            insert(group_members).values(group_id=clients[1].group_id, member_id="gone", member_type="User")
        )
    assert any("outlives its user" in v for v in check_database(engine))
