"""``scimhub token create|list|revoke``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scimhub.cli.options import DatabaseUrl, services
from scimhub.directory.actors import SYSTEM
from scimhub.directory.tokens import ADMIN_USER_NAME
from scimhub.domain.tokens import Duration
from scimhub.domain.users import user_urn

app = typer.Typer(help="Personal access tokens (DataHub format).", no_args_is_help=True)


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the token by.")],
    user: Annotated[str, typer.Option("--user", help="The userName the token acts as.")] = ADMIN_USER_NAME,
    expires: Annotated[
        str, typer.Option("--expires", help="ONE_HOUR … ONE_YEAR or NO_EXPIRY (Entra needs a token that lasts).")
    ] = Duration.NO_EXPIRY.value,
    description: Annotated[str | None, typer.Option("--description")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a personal access token; it is printed once, alone on the last line."""
    duration = Duration.read(expires)
    hub = services(database_url)
    try:
        hub.tokens.ensure_admin()
        issued, record = hub.tokens.issue(SYSTEM, user, name, duration, description)
    finally:
        hub.close()
    typer.echo(f"Token {record.id} ({record.name}) acts as {user_urn(user)}; expires: {_iso(record.expires) or 'never'}.")
    typer.echo("Store it now: scimhub keeps only its hash and cannot show it again.")
    typer.echo(issued.token)


@app.command("list")
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array for scripts.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List every token (never the token itself)."""
    hub = services(database_url)
    try:
        views = hub.tokens.list(SYSTEM)
    finally:
        hub.close()
    items = [
        {
            "id": v.record.id,
            "name": v.record.name,
            "description": v.record.description,
            "actor": user_urn(v.actor_name),
            "owner": user_urn(v.owner_name),
            "createdAt": _iso(v.record.created),
            "expiresAt": _iso(v.record.expires),
            "lastUsedAt": _iso(v.record.last_used),
        }
        for v in views
    ]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "name", "actor", "created", "expires", "last used")
    for item in items:
        table.add_row(
            item["id"],
            item["name"],
            item["actor"],
            item["createdAt"],
            item["expiresAt"] or "never",
            item["lastUsedAt"] or "never",
        )
    Console().print(table)


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id, as `scimhub token list` shows it.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token; every process refuses it from the next request on."""
    hub = services(database_url)
    try:
        hub.tokens.revoke(SYSTEM, token_id)
    finally:
        hub.close()
    typer.echo(f"Token {token_id} revoked.")
