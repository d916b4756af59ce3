"""``scimhub events tail [--follow] [--json]`` and ``scimhub events prune``.

``tail`` reads the audit view (``feed/audit.py``) as the operator, who holds the
database and so every privilege. ``--follow`` keeps printing new events: on
PostgreSQL it wakes on the ``NOTIFY`` every commit sends, on SQLite it looks
again once a second. ``--json`` prints JSON Lines, one event per line, the same
objects ``GET /api/v1/events`` returns, so a script can follow the stream.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import typer

from scimhub.cli.database import announce
from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, open_services
from scimhub.directory.actors import SYSTEM
from scimhub.domain.events import Category, RecordedEvent
from scimhub.feed.audit import AuditRequest, audit_json, parse_time
from scimhub.representations import iso
from scimhub.store.sql.notify import CommitWaiter
from scimhub.wiring import Services

app = command_group("The change events DataHub consumers poll: tail, follow, prune.")

FOLLOW_BATCH = 500
IDLE_SECONDS = 1.0
"""How long ``--follow`` waits for a commit before it looks again (SQLite never wakes it sooner)."""


@app.command("tail")
def tail(
    entity: Annotated[str | None, typer.Option("--entity", help="Only changes of this URN.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only changes made by this user's URN.")
    ] = None,
    category: Annotated[Category | None, typer.Option("--category", help="Only this category.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only changes at or after this ISO 8601 time.")
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, max=1000, help="How many to show first.")
    ] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = False,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the newest change events, oldest first; with --follow, keep printing new ones as they commit."""
    request = AuditRequest(
        entity=entity,
        actor=actor,
        category=category,
        since=parse_time("--since", since) if since else None,
        limit=max(lines, 1),
    )
    with open_services(database_url) as hub:
        newest = hub.audit.search(SYSTEM, request)
        for offset, recorded in reversed(newest.events[:lines]):
            _print(offset, recorded, as_json)
        if follow:
            announce()  # the command runs until interrupted: name the database now
            try:
                _follow(hub, replace(request, limit=FOLLOW_BATCH), newest.head, as_json)
            except KeyboardInterrupt:
                return


def _follow(hub: Services, request: AuditRequest, position: str, as_json: bool) -> None:
    with CommitWaiter(hub.engine) as waiter:
        while True:
            page = hub.audit.search(SYSTEM, replace(request, after=position))
            for offset, recorded in page.events:
                _print(offset, recorded, as_json)
            # After this page's last event, or at the head when nothing more matched.
            position = page.next or page.head
            if page.next is None:
                waiter.wait(IDLE_SECONDS)


@app.command("prune")
def prune(
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            min=0,
            help="Keep this many days [default: SCIMHUB_EVENT_RETENTION_DAYS, else 30]; 0 keeps all.",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete the change events older than the retention period; consumers behind it get a 400."""
    with open_services(database_url) as hub:
        days = hub.feed.retention_days if retention_days is None else retention_days
        pruned = hub.feed.prune(days)
    typer.echo(f"Pruned {pruned} change event(s) older than {days} day(s)." if days else "Retention is off.")


def _print(offset: str, recorded: RecordedEvent, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(audit_json(offset, recorded), ensure_ascii=False))
        return
    event = recorded.event
    words = [
        iso(event.time) or "",
        f"{event.category.value}/{event.operation.value}",
        event.entity_urn,
        *([f"-> {event.modifier}"] if event.modifier else []),
        f"by {event.actor}",
    ]
    typer.echo("  ".join(words))
