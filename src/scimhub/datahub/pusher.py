"""The push into DataHub: follow the outbox, push the current state of what changed, then checkpoint.

ADR 0013. One process at a time pushes: the one holding the lease row
(``store/sql/push.py``), renewed while it works and taken over by another
process once a crashed holder lets it expire. A batch of events is pushed as
the *current* state of the users and groups it touched (``plans.py``), and the
checkpoint moves past the batch, in the same transaction as the record of what
was pushed, only once GMS took all of it. A failure leaves the checkpoint where
it was, so the next attempt reads the same events again and pushes the state
of that moment: nothing is lost, and since each entity is written whole and
batches go in order, no user's older state can land after a newer one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from scimhub.datahub.plans import Plan, group_states, plan_gone, plan_touched, user_states
from scimhub.datahub.sink import DataHubSink, PushFailed
from scimhub.datahub.status import PushStatus, read_status
from scimhub.errors import Conflict
from scimhub.query.pages import Query
from scimhub.store.contract import Store, Transaction

log = logging.getLogger("scimhub.datahub")

R = TypeVar("R")

Clock = Callable[[], int]
"""Return the current time in microseconds since the epoch."""
Progress = Callable[[int, int], None]
"""Hear how many entities of how many a full push has done."""
SECOND = 1_000_000


class PushBusy(Conflict):
    """Another process holds the lease to push."""


class LostLease(Exception):
    """The lease passed to another process while this one worked; it stops pushing."""


@dataclass(frozen=True)
class PushOptions:
    """How a pusher works; the defaults suit production."""

    name: str = "datahub"
    """The push's row in ``datahub_push_state``."""
    origin: str = "SCIM_client_{externalId}"
    """``origin.externalType`` template (``SCIMHUB_DATAHUB_EXTERNAL_TYPE``)."""
    batch_events: int = 500
    """Events read per batch."""
    page: int = 200
    """Entities per page of a full push, and proposals per request between lease renewals."""
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    """How often a caught-up leader looks for other processes' commits (its own wake it at once)."""
    backoff_first: float = 0.5
    backoff_max: float = 60.0
    skip: frozenset[str] = frozenset()
    """User URNs never pushed: the built-in administrator is scimhub's, not the identity provider's."""


def holder_id() -> str:
    """Return a name for this process's pusher, unique among processes: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pusher:
    """Push users and groups from the store into a DataHub sink, as the lease holder."""

    def __init__(
        self,
        store: Store,
        sink: Callable[[], DataHubSink],
        clock: Clock,
        options: PushOptions = PushOptions(),
        holder: str | None = None,
    ) -> None:
        self._store = store
        self._make_sink = sink
        self._sink: DataHubSink | None = None
        self._clock = clock
        self.options = options
        self.holder = holder or holder_id()
        self._lease_until = 0

    def status(self) -> PushStatus:
        """Return where the push stands, as the database says."""
        return read_status(self._store, self.options.name, True, self._clock())

    def lead(self) -> bool:
        """Take or renew the lease when less than half of it is left; tell whether this pusher leads."""
        now = self._clock()
        lease = int(self.options.lease_seconds * SECOND)
        if self._lease_until - now > lease // 2:
            return True
        with self._store.transaction() as tx:
            state = tx.push.lease(self.options.name, self.holder, now, now + lease)
        self._lease_until = now + lease if state is not None else 0
        return state is not None

    def take_lead(self) -> None:
        """Take or renew the lease. :raises PushBusy: When another process holds it, naming that process."""
        if not self.lead():
            status = self.status()
            raise PushBusy(
                f"another process ({status.leader}) is pushing to DataHub; its lease runs until it stops"
                " (or, if it crashed, until the lease expires): stop it, or let it push"
            )

    def release(self) -> None:
        """Give the lease up, so another process can push at once; close the sink."""
        if self._lease_until:
            with self._store.transaction() as tx:
                tx.push.release(self.options.name, self.holder)
            self._lease_until = 0
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def sink(self) -> DataHubSink:
        """Return the sink, making it on first use. :raises PushRefused: When it cannot be made."""
        if self._sink is None:
            self._sink = self._make_sink()
        return self._sink

    def check(self) -> str:
        """Verify the sink takes pushes; return what it is. :raises PushFailed: When it does not."""
        return self.sink().check()

    def step(self) -> int | None:
        """Push one batch of the events after the checkpoint; return how many, or None when caught up.

        :raises PushFailed: When the sink did not take the batch; the checkpoint stays.
        :raises LostLease: When another process took the lease meanwhile.
        """
        name = self.options.name
        with self._store.read() as tx:
            state = tx.push.state(name)
            checkpoint = state.last_seq if state is not None else 0
            if checkpoint < tx.events.state().pruned_through:
                pruned = True
            else:
                pruned = False
                events = tx.events.after(checkpoint, self.options.batch_events)
                touched = [(r.event.entity_type, r.event.entity_urn) for r in events]
                plan = plan_touched(tx, touched, self.options.skip)
        if pruned:
            log.warning(
                "events after the DataHub push's checkpoint %d were pruned; pushing everything", checkpoint
            )
            return self.reconcile()
        if not events:
            return None
        self._push(plan)
        self._commit(plan, events[-1].seq)
        return len(events)

    def reconcile(self, progress: Progress | None = None) -> int:
        """Push every user and group, delete from DataHub what no longer exists; return how many of each.

        The checkpoint then moves to the head the push started from: any later
        change has a later event, which the incremental push sends.
        """
        with self._store.read() as tx:
            head = tx.events.state().head
            total = tx.groups.search(Query(limit=0)).total + tx.users.search(Query(limit=0)).total
        done = 0
        for plan in self._pages():
            self._push(plan)
            self._commit(plan, None)
            done += plan.touched
            if progress is not None:
                progress(min(done, total), total)
        self._commit(Plan(), head)
        return done

    def _pages(self) -> Iterator[Plan]:
        """Yield plans for every group, then every user, then every pushed entity that is gone."""
        page, skip = self.options.page, self.options.skip
        yield from self._keyset(
            lambda tx, after: tx.push.groups_after(after, page),
            lambda group: group.id,
            lambda tx, groups: Plan(groups=group_states(tx, groups), touched=len(groups)),
        )
        yield from self._keyset(
            lambda tx, after: tx.push.users_after(after, page),
            lambda user: user.id,
            lambda tx, users: Plan(
                users=user_states(tx, [u for u in users if u.urn not in skip]), touched=len(users)
            ),
        )
        yield from self._keyset(
            lambda tx, after: tx.push.pushed_after(after, page), lambda e: e.urn, plan_gone
        )

    def _keyset(
        self,
        read: Callable[[Transaction, str], Sequence[R]],
        key: Callable[[R], str],
        plan: Callable[[Transaction, Sequence[R]], Plan],
    ) -> Iterator[Plan]:
        """Yield a plan per page of rows read after the previous page's last key, one read each.

        No transaction stays open while a page is pushed.
        """
        after = ""
        while True:
            with self._store.read() as tx:
                rows = read(tx, after)
                made = plan(tx, rows) if rows else None
            if made is None:
                return
            after = key(rows[-1])
            yield made

    def _push(self, plan: Plan) -> None:
        """Push a plan's changes a page at a time, renewing the lease between pages."""
        changes = plan.changes(self.options.origin)
        sink = self.sink()
        for start in range(0, len(changes), self.options.page):
            if not self.lead():
                raise LostLease(self.holder)
            sink.push(changes[start : start + self.options.page])

    def _commit(self, plan: Plan, through: int | None) -> None:
        """Record what the plan pushed and, when ``through`` is given, move the checkpoint past it."""
        name, now = self.options.name, self._clock()
        with self._store.transaction() as tx:
            if through is not None:
                leads = tx.push.advance(name, self.holder, through, now)
            else:
                state = tx.push.state(name)
                leads = state is not None and state.leader == self.holder
            if not leads:
                raise LostLease(self.holder)
            tx.push.record(plan.pushed(), plan.removed(), now)

    def fail(self, error: PushFailed) -> None:
        """Record a failed push (a refused one stops pushing and gives the lease up).

        When the database cannot take the record either, the failure is only logged.
        """
        if not error.retryable:
            self._lease_until = 0
        try:
            with self._store.transaction() as tx:
                tx.push.fail(self.options.name, self.holder, error.detail, not error.retryable, self._clock())
        except Exception:  # noqa: BLE001 - the push goes on (or stops) all the same
            log.exception("could not record the DataHub push failure: %s", error.detail)

    def backoff(self, failures: int) -> float:
        """Return how long to wait after ``failures`` failures in a row: doubling, up to a cap."""
        return float(min(self.options.backoff_first * 2 ** max(failures - 1, 0), self.options.backoff_max))

    def run(
        self,
        stop: threading.Event,
        wake: threading.Event | None = None,
        *,
        until_caught_up: bool = False,
        max_failures: int | None = None,
    ) -> int:
        """Push until ``stop`` is set, or until caught up; return how many events were pushed.

        A retryable failure waits a doubling backoff and tries again, from the
        checkpoint; after ``max_failures`` in a row it is raised. A refused push
        is recorded and raised at once.

        :raises PushFailed: When a push is refused, or fails ``max_failures`` times in a row.
        :raises PushBusy: With ``until_caught_up``, when another process holds the lease.
        """
        wake = wake or threading.Event()
        failures = pushed = 0
        while not stop.is_set():
            try:
                if until_caught_up:
                    self.take_lead()
                elif not self.lead():
                    wake.wait(self.options.lease_seconds / 2)
                    continue
                wake.clear()
                done = self.step()
            except LostLease:
                log.warning("the DataHub push lease passed to another process; standing by")
                self._lease_until = 0
                continue
            except PushFailed as error:
                failures += 1
                self.fail(error)
                _log_failure(error, failures)
                if not error.retryable or (max_failures is not None and failures > max_failures):
                    raise
                stop.wait(self.backoff(failures))
                continue
            except PushBusy:
                raise
            except Exception:
                if until_caught_up:
                    raise
                failures += 1  # the database, most likely: the server goes on, and so does the push
                log.exception("DataHub push failed (%d in a row), retrying", failures)
                stop.wait(self.backoff(failures))
                continue
            if failures:
                log.info("the DataHub push recovered after %d failed attempt(s)", failures)
            failures = 0
            if done is None:
                if until_caught_up:
                    return pushed
                wake.wait(self.options.poll_seconds)
            else:
                pushed += done
        return pushed


def _log_failure(error: PushFailed, failures: int) -> None:
    if not error.retryable:
        log.error("DataHub push stopped: %s", error.detail)
    elif failures == 1 or failures % 10 == 0:
        log.warning("DataHub push failed (%d in a row), retrying: %s", failures, error.detail)
