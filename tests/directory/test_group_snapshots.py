"""``Groups.open``: a group and its members read from one snapshot, chunk by chunk, on both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.errors import NotFound
from scimhub.store.sql.members import SqlMemberRows
from scimhub.wiring import Services
from tests.directory.conftest import add_group, add_user


def _adding(*members: Member) -> GroupEdit:
    return GroupEdit({"displayName": "crew"}, MemberChange(add=members))


def _crew(hub: Services, size: int) -> Group:
    return add_group(hub, "crew", *(add_user(hub, f"member{i}") for i in range(size)))


def test_a_snapshot_reads_the_members_of_the_moment_it_was_opened(hub: Services) -> None:
    """Members added and the version bumped after ``open`` are not seen, however late the members are read."""
    group = _crew(hub, 5)
    newcomer = add_user(hub, "newcomer")
    with hub.groups.open(group.id) as snapshot:
        first = snapshot.next_members(2)
        hub.groups.update(SYSTEM, group.id, lambda _: _adding(Member(newcomer.id)))
        rest = snapshot.next_members(100)
        assert snapshot.group.version == group.version
    assert len(first) == 2 and len(rest) == 3
    assert newcomer.id not in {m.value for m in first + rest}
    assert [m.value for m in first + rest] == sorted(m.value for m in first + rest)
    assert hub.groups.get(group.id).group.version == group.version + 1


def test_closing_a_snapshot_gives_its_connection_back(hub: Services) -> None:
    """``close`` mid-way ends the transaction, returns the connection; nothing is read after; twice is ok."""
    group = _crew(hub, 3)
    snapshot = hub.groups.open(group.id)
    assert len(snapshot.next_members(1)) == 1
    assert hub.store.in_use() == 1

    snapshot.close()
    snapshot.close()

    assert hub.store.in_use() == 0
    assert snapshot.next_members(10) == []


def test_opening_a_missing_group_raises_and_holds_no_connection(hub: Services) -> None:
    """``open`` of an unknown id raises NotFound with its transaction already closed."""
    with pytest.raises(NotFound):
        hub.groups.open("nope")
    assert hub.store.in_use() == 0


def test_close_waits_for_a_chunk_being_read_on_another_thread(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A close from another thread never runs on the connection while a chunk is read: it waits for it."""
    group = _crew(hub, 4)
    members = SqlMemberRows.members

    def slow(rows: SqlMemberRows, group_id: str, limit: int | None = None) -> Generator[Member, None, None]:
        for member in members(rows, group_id, limit):  # a slow cursor widens the window
            reading.set()
            time.sleep(0.05)
            yield member

    monkeypatch.setattr(SqlMemberRows, "members", slow)
    snapshot = hub.groups.open(group.id)
    read: list[int] = []
    reading = threading.Event()
    reader = threading.Thread(target=lambda: read.append(len(snapshot.next_members(4))))
    reader.start()
    assert reading.wait(5)
    snapshot.close()  # blocks until the read above finished
    reader.join(5)

    assert read == [4]
    assert hub.store.in_use() == 0
