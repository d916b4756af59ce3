"""GMS fails for a while (500s, a timeout, a 503), then recovers: every change arrives, the lag drains."""

from __future__ import annotations

import time

from scimhub.datahub.emitter import EmitterSink
from scimhub.datahub.pusher import Pusher, PushOptions
from scimhub.datahub.worker import PushWorker
from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit
from scimhub.domain.roles import Role
from scimhub.settings import Secret
from scimhub.wiring import Services, now_micros
from tests.datahub.gms import Fault, StandInGms
from tests.directory.conftest import add_group, add_user

FAULTS = [Fault(status=500), Fault(status=500), Fault(delay=1.5), Fault(status=503), Fault(status=502)]
"""Five failed ingest calls in a row; the timed-out one is still applied by GMS, late."""


def pusher(hub: Services, gms: StandInGms) -> Pusher:
    options = PushOptions(backoff_first=0.05, backoff_max=0.4, poll_seconds=0.05, batch_events=7)
    return Pusher(hub.store, lambda: EmitterSink(gms.url, Secret(gms.token), 1), now_micros, options)


def provision(hub: Services) -> None:
    """Make a few dozen changes of every kind, without waiting for the push."""
    users = [add_user(hub, f"user{i}", displayName=f"User {i}") for i in range(8)]
    groups = [add_group(hub, "Readers", *users[:5]), add_group(hub, "Writers", *users[3:])]
    hub.roles.assign(SYSTEM, Role.READER, "group", groups[0].id)
    hub.roles.assign(SYSTEM, Role.EDITOR, "user", users[1].id)
    for user in users[:4]:
        hub.users.update(SYSTEM, user.id, lambda u: UserEdit({**u.doc, "active": False}))
    hub.users.delete(SYSTEM, users[7].id)
    hub.groups.delete(SYSTEM, groups[1].id)
    hub.users.update(SYSTEM, users[0].id, lambda u: UserEdit({**u.doc, "title": "back", "active": True}))


def test_every_change_arrives_after_gms_recovers_and_the_lag_drains(hub: Services, gms: StandInGms) -> None:
    """Failed batches are pushed again from the checkpoint; DataHub ends where a clean full push puts it."""
    gms.faults.extend(FAULTS)
    worker = PushWorker(pusher(hub, gms))
    hub.commits.on_commit(worker.wake)
    worker.start()
    try:
        provision(hub)
        deadline = time.monotonic() + 60
        while (status := worker.pusher.status()).lag or status.state != "ok":
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
    finally:
        worker.stop()
    assert not gms.faults, "every fault was met"
    assert status.last_error is not None and "GMS" in status.last_error
    # The same end state as a single full push of the store into an empty GMS.
    clean = StandInGms()
    try:
        again = pusher(hub, clean)
        again.options = PushOptions(name="clean")
        again.take_lead()
        again.reconcile()
        again.release()
        assert gms.entities() == clean.entities()
    finally:
        clean.close()
    assert "urn:li:corpuser:user7" not in gms.entities() and "urn:li:corpGroup:Writers" not in gms.entities()
    assert gms.entities()["urn:li:corpuser:user4"]["groupMembership"] == {
        "groups": ["urn:li:corpGroup:Readers"]
    }
