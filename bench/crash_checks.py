"""What the crash rehearsal checks after each restart, read straight from the database and the stand-in GMS.

For each client: its users, titles and group members, and the events of each
of its entities, must be exactly the serial application of its acknowledged
writes, with its last write (if it got no answer) either wholly applied or
wholly absent: rows and events together. Across the database: no membership
row outlives its member, SQLite's ``integrity_check`` and ``foreign_key_check``
are clean. The DataHub push: it caught up, the aspects GMS holds agree with
the rows, and every event past the checkpoint the crash left was pushed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.crash_load import Client, Event, Model
from sqlalchemy import Engine, select, text
from tests.datahub.gms import StandInGms

from scimhub.domain.groups import group_urn
from scimhub.domain.users import user_urn
from scimhub.store.sql.tables import datahub_push_state, events, group_members, groups, users


@dataclass
class Tally:
    """The figures of one engine's rounds."""

    rounds: int = 0
    writes: int = 0
    acknowledged: int = 0
    checked: int = 0
    """Acknowledged writes whose rows and events were found as acknowledged."""
    refused: int = 0
    """Writes whose connection was refused (never sent), found absent."""
    applied: int = 0
    absent: int = 0
    """Writes in flight at the kill, found wholly applied or wholly absent."""
    repushed: int = 0
    """Events past the crash's checkpoint that the restarted push sent again."""
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Found:
    """One client's resources as the database holds them."""

    users: dict[str, Any]
    members: set[str]
    events: dict[str, list[Event]]


def found(engine: Engine, client: Client, names: Iterable[str]) -> tuple[Found, list[str]]:
    """Read a client's users, group members and events; return them and the membership rows without a user."""
    names = sorted(names)
    urns = [user_urn(n) for n in names] + [group_urn(client.model.group)]
    with engine.connect() as connection:
        rows = connection.execute(
            select(users.c.id, users.c.user_name, users.c.doc).where(users.c.user_name.in_(names))
        )
        titles, by_id = {}, {}
        for row in rows:
            titles[row.user_name] = row.doc.get("title")
            by_id[row.id] = row.user_name
        group = connection.execute(
            select(groups.c.id).where(groups.c.display_name == client.model.group)
        ).scalar()
        member_ids = connection.execute(
            select(group_members.c.member_id).where(group_members.c.group_id == group)
        )
        member_ids = [m for (m,) in member_ids]
        kept: dict[str, list[Event]] = {}
        query = (
            select(events.c.entity_urn, events.c.category, events.c.operation, events.c.modifier)
            .where(events.c.entity_urn.in_(urns))
            .order_by(events.c.seq)
        )
        for urn, category, operation, modifier in connection.execute(query):
            kept.setdefault(urn, []).append(
                (category, operation, modifier if category == "GROUP_MEMBERSHIP" else None)
            )
    members = {by_id[m] for m in member_ids if m in by_id}
    lost = [
        f"{client.name}: a membership row of {m}, a user that is gone" for m in member_ids if m not in by_id
    ]
    return Found(titles, members, kept), lost


def expected(model: Model) -> Found:
    """Return what ``model`` says the database holds."""
    return Found(dict(model.users), set(model.members), {urn: list(e) for urn, e in model.events.items()})


def _names(client: Client) -> set[str]:
    return {w.write.names[0] for w in client.outcomes if w.write.kind == "create"}


def check_client(engine: Engine, client: Client, tally: Tally) -> None:
    """Compare one client's resources with its model; settle its write in doubt; count, or add violations."""
    actual, lost = found(engine, client, _names(client))
    tally.violations += lost
    doubt = client.doubtful_model()
    if actual == expected(client.model):
        if doubt is not None:
            tally.absent += 1
            client.settle(applied=False)
        return
    if doubt is not None and actual == expected(doubt[1]):
        tally.applied += 1
        client.settle(applied=True)
        return
    want = expected(client.model)
    detail = _difference(want, actual)
    if doubt is not None:
        detail += (
            f"; nor with its write in doubt {doubt[0]} applied: {_difference(expected(doubt[1]), actual)}"
        )
    tally.violations.append(f"{client.name}: {detail}")


def _difference(want: Found, actual: Found) -> str:
    parts = []
    if want.users != actual.users:
        parts.append(f"users {want.users} != {actual.users}")
    if want.members != actual.members:
        parts.append(f"members {sorted(want.members)} != {sorted(actual.members)}")
    for urn in sorted(want.events.keys() | actual.events.keys()):
        if want.events.get(urn, []) != actual.events.get(urn, []):
            parts.append(f"events of {urn} {want.events.get(urn, [])} != {actual.events.get(urn, [])}")
    return "; ".join(parts) or "equal"


def check_database(engine: Engine) -> list[str]:
    """Return the violations of the database as a whole: orphan members, and SQLite's own checks."""
    problems = []
    with engine.connect() as connection:
        orphans = connection.execute(
            select(group_members.c.group_id, group_members.c.member_id)
            .where(group_members.c.member_type == "User")
            .where(~group_members.c.member_id.in_(select(users.c.id)))
        ).all()
        problems += [f"membership row {g}/{m} outlives its user" for g, m in orphans]
        if engine.dialect.name == "sqlite":
            integrity = [r[0] for r in connection.execute(text("PRAGMA integrity_check"))]
            if integrity != ["ok"]:
                problems.append(f"PRAGMA integrity_check: {integrity[:5]}")
            keys = connection.execute(text("PRAGMA foreign_key_check")).all()
            if keys:
                problems.append(f"PRAGMA foreign_key_check: {keys[:5]}")
    return problems


def push_position(engine: Engine) -> int:
    """Return the push's checkpoint (0 before its first push)."""
    with engine.connect() as connection:
        seq = connection.execute(
            select(datahub_push_state.c.last_seq).where(datahub_push_state.c.name == "datahub")
        )
        return int(seq.scalar() or 0)


def expire_lease(engine: Engine) -> None:
    """End the killed process's push lease, as waiting out its 30 s would (the rehearsal's one shortcut)."""
    with engine.begin() as connection:
        connection.execute(datahub_push_state.update().values(lease_until=0))


def check_push(
    engine: Engine, gms: StandInGms, clients: list[Client], checkpoint: int, mark: int
) -> tuple[int, list[str]]:
    """Check the pushed state against the rows, and that every event past ``checkpoint`` was pushed again.

    ``mark`` is how many changes GMS had taken when the server was killed. An
    entity created and deleted between two pushes may never reach GMS at all.
    Return how many events were pushed again, and the violations.
    """
    problems: list[str] = []
    held = gms.entities()
    with gms._lock:  # noqa: SLF001 - the stand-in's record, read whole
        after = {r.urn for r in gms.received[mark:]}
    prefixes = tuple(c.name for c in clients)
    with engine.connect() as connection:
        live = {
            row.user_name: row.doc.get("title")
            for row in connection.execute(select(users.c.user_name, users.c.doc))
            if row.user_name.startswith(prefixes)
        }
        memberships: dict[str, set[str]] = {}
        query = select(users.c.user_name, groups.c.display_name).select_from(
            group_members.join(users, users.c.id == group_members.c.member_id).join(
                groups, groups.c.id == group_members.c.group_id
            )
        )
        for user_name, display_name in connection.execute(query):
            memberships.setdefault(user_name, set()).add(group_urn(display_name))
        since = connection.execute(
            select(events.c.seq, events.c.entity_urn).where(events.c.seq > checkpoint).order_by(events.c.seq)
        ).all()
    for name, title in live.items():
        aspects = held.get(user_urn(name), {})
        if aspects.get("corpUserInfo", {}).get("title") != title:
            problems.append(f"push: {name} has title {title!r} here, {aspects.get('corpUserInfo')} in GMS")
        pushed_groups = set(aspects.get("groupMembership", {}).get("groups", []))
        if pushed_groups != memberships.get(name, set()):
            problems.append(f"push: {name} is in {memberships.get(name)} here, {pushed_groups} in GMS")
    gone = {n for c in clients for n in _names(c)} - live.keys()
    problems += [f"push: {n} is deleted here but held by GMS" for n in sorted(gone) if user_urn(n) in held]
    repushed = 0
    live_urns = {user_urn(n) for n in live} | {group_urn(c.model.group) for c in clients}
    for seq, urn in since:
        if urn in after:
            repushed += 1
        elif urn in live_urns or urn in held:
            problems.append(
                f"push: event {seq} of {urn} after the checkpoint {checkpoint} was not pushed again"
            )
    return repushed, problems
