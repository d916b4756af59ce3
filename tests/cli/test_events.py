"""``scimhub events tail [--follow] [--json]`` and ``scimhub events prune``, on both engines."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import Role
from scimhub.wiring import Services, now_micros
from tests.cli.conftest import Cli
from tests.directory.conftest import add_group, add_user
from tests.integration.conftest import stop_server
from tests.store.contract_events import append, make_event


def test_tail_prints_the_newest_events_oldest_first(cli: Cli, hub: Services) -> None:
    """tail -n N shows the last N events, one line each: time, category/operation, entity, modifier, actor."""
    add_user(hub, "first")
    user = add_user(hub, "second")
    add_group(hub, "Team", user)
    lines = cli("events", "tail", "-n", "2").stdout.splitlines()
    assert len(lines) == 2
    assert "LIFECYCLE/CREATE  urn:li:corpGroup:Team  by urn:li:corpuser:__scimhub_system" in lines[0]
    assert "GROUP_MEMBERSHIP/ADD  urn:li:corpuser:second  -> urn:li:corpGroup:Team" in lines[1]


def test_tail_json_prints_one_event_per_line_with_its_offset(cli: Cli, hub: Services) -> None:
    """--json prints JSON Lines: the audit view objects, each an EntityChangeEvent with its offsetId."""
    user = add_user(hub, "roled")
    hub.roles.assign(SYSTEM, Role.EDITOR, "user", user.id)
    lines = cli("events", "tail", "--json", "--category", "ROLE_MEMBERSHIP").stdout.splitlines()
    (event,) = [json.loads(line) for line in lines]
    assert event["entityUrn"] == "urn:li:corpuser:roled" and event["modifier"] == Role.EDITOR.urn
    assert event["parameters"] == {"roleUrn": Role.EDITOR.urn, "source": "assigned"}
    assert event["version"] == 0 and event["offsetId"]


def test_tail_filters_by_entity(cli: Cli, hub: Services) -> None:
    """--entity keeps only the changes of that URN."""
    add_user(hub, "one")
    add_user(hub, "two")
    lines = cli("events", "tail", "--json", "--entity", "urn:li:corpuser:two").stdout.splitlines()
    assert [json.loads(line)["entityUrn"] for line in lines] == ["urn:li:corpuser:two"]


def test_tail_follow_prints_new_events_as_they_commit(cli: Cli, hub: Services) -> None:
    """--follow keeps running and prints each new event once it commits (here from another process)."""
    add_user(hub, "already-there")
    env = {k: v for k, v in {**os.environ, **cli.env()}.items() if v is not None}
    command = [sys.executable, "-m", "scimhub", "events", "tail", "--follow", "--json", "-n", "1"]
    follower = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(follower, lines), daemon=True).start()
    try:
        for name in ("already-there", "followed-1", "followed-2"):
            if name != "already-there":  # printed first: the follower has read where the feed stands
                add_user(hub, name)
            event = json.loads(lines.get(timeout=60))
            assert (event["entityUrn"], event["operation"]) == (f"urn:li:corpuser:{name}", "CREATE")
    finally:
        stop_server(follower)
        if follower.stdout:
            follower.stdout.close()


def test_prune_deletes_what_retention_no_longer_keeps(cli: Cli, hub: Services) -> None:
    """events prune deletes events older than the retention period and says how many."""
    append(hub.store, make_event(time=now_micros() - 40 * 86_400_000_000), make_event(time=now_micros()))
    assert (
        "Pruned 0 change event(s) older than 60 day(s)."
        in cli("events", "prune", "--retention-days", "60").stdout
    )
    assert "Pruned 1 change event(s) older than 30 day(s)." in cli("events", "prune").stdout
    assert "Retention is off." in cli("events", "prune", "--retention-days", "0").stdout


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in process.stdout or ():
        lines.put(line)
