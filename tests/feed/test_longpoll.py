"""The notifier: a poll waits without asking the database, and never misses a commit."""

from __future__ import annotations

import asyncio
import threading

from scimhub.feed.longpoll import Notifier, watch_head


def test_a_wait_beyond_what_was_heard_returns_at_once() -> None:
    """A commit heard before the wait began is not missed: the wait compares first."""

    async def scenario() -> bool:
        notifier = Notifier(asyncio.get_running_loop())
        notifier.advance(5)
        return await notifier.wait_beyond(4, timeout=30)

    assert asyncio.run(scenario()) is True


def test_a_wait_ends_when_a_later_commit_is_heard() -> None:
    """advance() beyond the waiter's position wakes it; one at or below does not."""

    async def scenario() -> tuple[bool, int]:
        notifier = Notifier(asyncio.get_running_loop())
        notifier.advance(3)
        waiting = asyncio.create_task(notifier.wait_beyond(3, timeout=30))
        await asyncio.sleep(0)
        notifier.advance(2)
        await asyncio.sleep(0)
        assert not waiting.done()
        notifier.advance(4)
        return await waiting, notifier.waiting

    assert asyncio.run(scenario()) == (True, 0)


def test_a_wait_times_out_when_nothing_commits() -> None:
    """With no commit the wait ends at its timeout and says so."""

    async def scenario() -> bool:
        return await Notifier(asyncio.get_running_loop()).wait_beyond(0, timeout=0.05)

    assert asyncio.run(scenario()) is False


def test_a_commit_in_a_worker_thread_wakes_the_loop() -> None:
    """advance_threadsafe() from another thread (a commit listener) wakes a waiter on the loop."""

    async def scenario() -> bool:
        notifier = Notifier(asyncio.get_running_loop())
        threading.Timer(0.01, notifier.advance_threadsafe, args=(1,)).start()
        return await notifier.wait_beyond(0, timeout=30)

    assert asyncio.run(scenario()) is True


def test_the_fallback_reads_the_head_only_while_a_poll_waits() -> None:
    """watch_head asks the database only when someone waits, and wakes them with what it read."""
    reads: list[int] = []

    def read_head() -> int:
        reads.append(1)
        return 7

    async def scenario() -> bool:
        notifier = Notifier(asyncio.get_running_loop())
        watch = asyncio.create_task(watch_head(read_head, interval=0.01)(notifier))
        await asyncio.sleep(0.05)
        idle_reads = len(reads)
        woken = await notifier.wait_beyond(6, timeout=30)
        watch.cancel()
        assert idle_reads == 0
        return woken

    assert asyncio.run(scenario()) is True
    assert reads
