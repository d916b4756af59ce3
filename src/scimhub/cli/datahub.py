"""``scimhub datahub sync [--full]`` and ``scimhub datahub status [--json]`` (ADR 0013).

``sync`` takes the push's lease like a server would, so it refuses to run
while a server pushes; it pushes what changed since the last push until it is
caught up, or, with ``--full``, every user and group first (deleting from
DataHub what scimhub no longer has), behind a progress bar.
"""

from __future__ import annotations

import threading
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, open_services
from scimhub.cli.output import print_json, print_tables, properties
from scimhub.datahub.pusher import Pusher
from scimhub.datahub.sink import PushFailed
from scimhub.datahub.status import PushStatus, status_json
from scimhub.errors import InvalidValue
from scimhub.representations import iso
from scimhub.wiring import Services

app = command_group("Push users and groups into DataHub: sync, status.")


def _pusher(hub: Services) -> Pusher:
    if hub.datahub is None:
        raise InvalidValue("set SCIMHUB_DATAHUB_GMS_URL (and SCIMHUB_DATAHUB_TOKEN) to push into DataHub")
    return hub.datahub


@app.command("sync")
def sync(
    full: Annotated[
        bool, typer.Option("--full", help="Push every user and group, and delete what scimhub no longer has.")
    ] = False,
    retries: Annotated[
        int,
        typer.Option("--retries", min=0, help="Retries of a failing push, with backoff, before giving up."),
    ] = 5,
    database_url: DatabaseUrl = None,
) -> None:
    """Push what changed into DataHub until caught up; with --full, everything first."""
    with open_services(database_url) as hub:
        pusher = _pusher(hub)
        try:
            pusher.take_lead()
            _check(pusher)
            if full:
                typer.echo(f"Pushed {_reconcile(pusher)} user(s) and group(s).")
            events = pusher.run(threading.Event(), until_caught_up=True, max_failures=retries)
        except PushFailed as error:
            typer.echo(f"error: {error.detail}", err=True)
            raise typer.Exit(1) from None
        finally:
            pusher.release()
        typer.echo(f"Pushed the changes of {events} event(s); DataHub is caught up.")


def _check(pusher: Pusher) -> None:
    """Say what is pushed to; a refusal ends the command, an outage is retried by the push."""
    try:
        typer.echo(f"Pushing to {pusher.check()}.")
    except PushFailed as error:
        if not error.retryable:
            raise
        typer.echo(f"warning: {error.detail}", err=True)


def _reconcile(pusher: Pusher) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("users and groups", total=None)
        return pusher.reconcile(lambda done, total: bar.update(task, completed=done, total=total))


@app.command("status")
def status(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """Print where the push into DataHub stands: state, lag, last success, last error, leader."""
    with open_services(database_url) as hub:
        found = hub.datahub_status()
    if as_json:
        print_json(status_json(found))
        return
    print_tables(properties("DataHub push", _rows(found)))


def _rows(found: PushStatus) -> list[tuple[str, str]]:
    return [
        ("state", found.state),
        ("configured here", "yes" if found.enabled else "no (SCIMHUB_DATAHUB_GMS_URL is not set)"),
        ("lag", f"{found.lag} event(s) (pushed through {found.checkpoint} of {found.head})"),
        ("last success", iso(found.last_success) or "never"),
        ("last error", f"{iso(found.last_error_at)}  {found.last_error}" if found.last_error else "none"),
        ("pushing process", found.leader or "none"),
    ]
