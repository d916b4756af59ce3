"""``scimhub token create|list|revoke``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, ensure_admin, open_services
from scimhub.cli.output import print_items
from scimhub.directory.accounts import ADMIN_USER_NAME
from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserRef
from scimhub.domain.tokens import Duration
from scimhub.errors import NotFound
from scimhub.representations import iso

app = command_group("Personal access tokens (DataHub format).")


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the token by.")],
    user: Annotated[str, typer.Option("--user", help="The userName the token acts as.")] = ADMIN_USER_NAME,
    expires: Annotated[
        str,
        typer.Option(
            "--expires",
            metavar="DURATION",
            help=f"One of {', '.join(d.value for d in Duration)} (any case); Entra needs a token that lasts.",
        ),
    ] = Duration.NO_EXPIRY.value,
    description: Annotated[str | None, typer.Option("--description")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a personal access token; it is printed once, alone on the last line."""
    duration = Duration.read(expires)
    with open_services(database_url) as hub:
        ensure_admin(hub)
        issued, view = hub.tokens.issue(SYSTEM, UserRef.by_name(user), name, duration, description)
    record = view.record
    expires = iso(record.expires) or "never"
    typer.echo(f"Token {record.id} ({record.name}) acts as {view.actor_urn}; expires: {expires}.")
    typer.echo("Store it now: scimhub keeps only its hash and cannot show it again.")
    typer.echo(issued.token)


@app.command("list")
def list_tokens(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """List every token (never the token itself)."""
    with open_services(database_url) as hub:
        views = hub.tokens.list(SYSTEM)
    items = [
        {
            "id": v.record.id,
            "name": v.record.name,
            "description": v.record.description,
            "actor": v.actor_urn,
            "owner": v.owner_urn,
            "createdAt": iso(v.record.created),
            "expiresAt": iso(v.record.expires),
            "lastUsedAt": iso(v.record.last_used),
        }
        for v in views
    ]
    table = Table("id", "name", "actor", "created", "expires", "last used")
    print_items(
        items,
        as_json,
        table,
        lambda item: (
            item["id"],
            item["name"],
            item["actor"],
            item["createdAt"],
            item["expiresAt"] or "never",
            item["lastUsedAt"] or "never",
        ),
    )


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id, as `scimhub token list` shows it.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token; every process refuses it from the next request on."""
    with open_services(database_url) as hub:
        try:
            hub.tokens.revoke(SYSTEM, token_id)
        except NotFound as error:
            if error.detail.startswith("no token"):  # neither live nor remembered as revoked
                raise NotFound(
                    f"{error.detail} in this database (`scimhub token list` shows the tokens that work)"
                ) from None
            raise
    typer.echo(f"Token {token_id} revoked.")
