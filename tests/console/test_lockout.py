"""Sign-in throttling (ADR 0030): failures within a window lock a key for a while, and only that key."""

from __future__ import annotations

from scimhub.console.lockout import BY_ADDRESS, BY_USER_NAME, CAPACITY, Lockout, Policy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_policy_numbers_are_those_of_adr_0030() -> None:
    """Five failures per user name, twenty per address, within 15 minutes, lock for 15 minutes."""
    assert BY_USER_NAME == Policy(5, 900, 900)
    assert BY_ADDRESS == Policy(20, 900, 900)


def test_the_fifth_failure_locks_the_key_for_the_lock_time() -> None:
    """Four failures leave the key free; the fifth locks it for 15 minutes, then it is free again."""
    clock = Clock()
    lockout = Lockout(Policy(5, 900, 900), clock)
    for _ in range(4):
        lockout.failed("ada")
    assert lockout.retry_after("ada") == 0
    lockout.failed("ada")
    assert lockout.retry_after("ada") == 900
    assert lockout.retry_after("bob") == 0
    clock.now += 899.5
    assert lockout.retry_after("ada") == 1
    clock.now += 0.5
    assert lockout.retry_after("ada") == 0


def test_failures_older_than_the_window_do_not_count() -> None:
    """Failures spread wider than the window never lock."""
    clock = Clock()
    lockout = Lockout(Policy(3, 60, 60), clock)
    for _ in range(10):
        lockout.failed("slow")
        clock.now += 31
    assert lockout.retry_after("slow") == 0


def test_a_success_forgets_the_failures() -> None:
    """The right password before the lock starts the count again."""
    clock = Clock()
    lockout = Lockout(Policy(3, 60, 60), clock)
    lockout.failed("ada")
    lockout.failed("ada")
    lockout.succeeded("ada")
    lockout.failed("ada")
    lockout.failed("ada")
    assert lockout.retry_after("ada") == 0


def test_memory_stays_bounded_whatever_names_are_tried() -> None:
    """Past CAPACITY keys the oldest are forgotten, the newest kept."""
    lockout = Lockout(Policy(1, 60, 60), Clock())
    for index in range(CAPACITY + 10):
        lockout.failed(f"name{index}")
    assert lockout.retry_after("name0") == 0
    assert lockout.retry_after(f"name{CAPACITY + 9}") == 60
