"""Sign-in lock-out in the database (ADR 0030 policy, ADR 0048 store), both engines, a fake clock."""

from __future__ import annotations

import hashlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from scimhub.directory.lockout import BY_ADDRESS, BY_USER_NAME, PRUNE_BATCH, SECOND, Lockout, Policy
from scimhub.settings import Settings
from scimhub.store.sql.tables import sign_in_failures
from scimhub.wiring import Services, build
from tests.directory.conftest import Clock

MINUTE = 60 * SECOND
SECRET = b"the token hash salt of these tests"


@pytest.fixture
def lockout(hub: Services, clock: Clock) -> Lockout:
    return Lockout(hub.store, clock, SECRET)


def _rows(hub: Services) -> list[tuple[str, str, int, int]]:
    with hub.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(sign_in_failures))]  # type: ignore[misc]


def test_the_policy_numbers_are_those_of_adr_0030() -> None:
    """Five failures per user name, twenty per address, within 15 minutes, lock for 15 minutes."""
    assert (BY_USER_NAME.failures, BY_USER_NAME.window, BY_USER_NAME.lock) == (5, 15 * MINUTE, 15 * MINUTE)
    assert (BY_ADDRESS.failures, BY_ADDRESS.window, BY_ADDRESS.lock) == (20, 15 * MINUTE, 15 * MINUTE)


def test_the_fifth_failure_locks_the_name_for_the_lock_time(lockout: Lockout, clock: Clock) -> None:
    """Four failures leave the name free; the fifth locks it for 900 s, counted down, then it is free."""
    assert [lockout.failed("ada", "10.0.0.1") for _ in range(4)] == [0, 0, 0, 0]
    assert lockout.retry_after("ada", "10.0.0.1") == 0
    assert lockout.failed("ada", "10.0.0.1") == 900
    assert lockout.retry_after("ADA", "10.0.0.9") == 900  # any case, any address: the name is locked
    assert lockout.retry_after("bob", "10.0.0.1") == 0
    clock.now += 899 * SECOND + SECOND // 2
    assert lockout.retry_after("ada", "10.0.0.9") == 1
    clock.now += SECOND // 2
    assert lockout.retry_after("ada", "10.0.0.9") == 0
    assert lockout.failed("ada", "10.0.0.1") == 0  # the lock's end starts the count afresh


def test_the_window_slides_exactly(lockout: Lockout, clock: Clock) -> None:
    """A failure counts for exactly the window: at its end it no longer does, a microsecond before it does."""
    start = clock.now
    for _ in range(4):
        lockout.failed("ada", "10.0.0.1")
    clock.now = start + 15 * MINUTE  # the four are exactly one window old: out
    assert lockout.failed("ada", "10.0.0.1") == 0
    for _ in range(3):
        lockout.failed("bob", "10.0.0.2")
    clock.now += 15 * MINUTE - 1  # bob's three are still in: with two more, five
    assert lockout.failed("bob", "10.0.0.2") == 0
    assert lockout.failed("bob", "10.0.0.2") == 900


def test_failures_spread_wider_than_the_window_never_lock(lockout: Lockout, clock: Clock) -> None:
    """One failure every four minutes keeps at most four in any 15 minutes: never locked."""
    for _ in range(30):
        assert lockout.failed("slow", "10.0.0.1") == 0
        clock.now += 4 * MINUTE


def test_a_success_forgets_the_names_failures_not_the_addresses(hub: Services, clock: Clock) -> None:
    """The right password before the lock starts the name's count again; the address keeps counting."""
    lockout = Lockout(hub.store, clock, SECRET, by_address=Policy(6, 15 * MINUTE, 15 * MINUTE, "address"))
    for _ in range(4):
        lockout.failed("ada", "10.0.0.1")
    lockout.succeeded("Ada")
    assert [lockout.failed("ada", "10.0.0.1") for _ in range(2)] == [0, 900]  # the address's sixth


def test_twenty_failures_from_one_address_lock_it_for_every_name(lockout: Lockout) -> None:
    """Twenty failures over twenty names lock the address, even for a new name; not other addresses."""
    waits = [lockout.failed(f"guess{i}", "10.0.0.1") for i in range(20)]
    assert waits == [0] * 19 + [900]
    assert lockout.retry_after("admin", "10.0.0.1") == 900
    assert lockout.retry_after("admin", "10.0.0.2") == 0


def test_only_keyed_digests_are_stored(hub: Services, lockout: Lockout, clock: Clock) -> None:
    """Neither the name (perhaps a password typed in the wrong box) nor the address is stored in clear,
    nor a plain hash of either that a copy of the database could test guesses against."""
    lockout.failed("Hunter2-Password", "192.0.2.7")
    rows = _rows(hub)
    assert "hunter2" not in repr(rows).lower() and "192.0.2.7" not in repr(rows)
    keys = ("name\x00hunter2-password", "address\x00192.0.2.7")
    key = hmac.new(SECRET, b"scimhub sign-in lock-out", hashlib.sha256).digest()
    assert {row[0] for row in rows} == {hmac.new(key, k.encode(), hashlib.sha256).hexdigest() for k in keys}
    assert not {row[0] for row in rows} & {hashlib.sha256(k.encode()).hexdigest() for k in keys}
    other = Lockout(hub.store, clock, b"another salt")
    assert other.digest(BY_USER_NAME, "hunter2-password") != lockout.digest(BY_USER_NAME, "hunter2-password")


def test_rows_whose_window_and_lock_are_over_are_pruned(
    hub: Services, lockout: Lockout, clock: Clock
) -> None:
    """A stream of random names leaves rows only for its last window: the table cannot grow without end."""
    for i in range(PRUNE_BATCH // 4):
        lockout.failed(f"random{i}", f"10.0.{i}.1")
    lockout.failed("locked", "10.1.0.1")
    for _ in range(4):
        lockout.failed("locked", "10.1.0.1")  # locked for 15 minutes from now
    clock.now += 15 * MINUTE
    lockout.failed("late", "10.2.0.1")
    digests = {row[0] for row in _rows(hub)}
    assert digests == {lockout.digest(BY_USER_NAME, "late"), lockout.digest(BY_ADDRESS, "10.2.0.1")}


def test_two_services_on_one_database_share_the_count(database_url: str, clock: Clock) -> None:
    """Two processes' services (each its own engine and store) count one allowance between them."""
    first, second = (build(Settings(database_url=database_url)) for _ in range(2))
    try:
        one, other = Lockout(first.store, clock, SECRET), Lockout(second.store, clock, SECRET)
        assert [one.failed("ada", "10.0.0.1") for _ in range(3)] == [0, 0, 0]
        assert other.failed("ada", "10.0.0.2") == 0
        assert other.failed("ada", "10.0.0.2") == 900  # the fifth, wherever the first four went
        assert one.retry_after("ada", "10.0.0.3") == 900
    finally:
        first.close()
        second.close()


def test_concurrent_failures_each_count(hub: Services, clock: Clock) -> None:
    """Threads failing at once on one name lose no count: of five, exactly one sees the lock."""
    lockout = Lockout(hub.store, clock, SECRET)
    start = threading.Barrier(5)

    def fail(index: int) -> int:
        start.wait()
        return lockout.failed("target", f"10.0.0.{index}")

    with ThreadPoolExecutor(5) as pool:
        waits = sorted(pool.map(fail, range(5)))
    assert waits == [0, 0, 0, 0, 900]


def test_many_concurrent_failures_are_all_recorded(hub: Services, clock: Clock) -> None:
    """Sixteen threads, each its own name, all from one address: the address counts sixteen, exactly."""
    wide = Policy(100, 15 * MINUTE, 15 * MINUTE, "address")
    lockout = Lockout(hub.store, clock, SECRET, by_address=wide)
    start = threading.Barrier(16)

    def fail(index: int) -> int:
        start.wait()
        return lockout.failed(f"name{index}", "10.0.0.1")

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(fail, range(16))) == {0}
    with hub.store.read() as tx:
        assert tx.failures.locked_until([lockout.digest(wide, "10.0.0.1")]) == 0
    [row] = [row for row in _rows(hub) if row[0] == lockout.digest(wide, "10.0.0.1")]
    assert len(row[1].split()) == 16
