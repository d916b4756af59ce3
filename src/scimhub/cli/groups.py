"""``scimhub group list|show|rename|delete``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.table import Table

from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, open_services
from scimhub.cli.output import every_page, print_items, print_json, print_tables, properties, role_names
from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.errors import InvalidValue
from scimhub.representations import group_json
from scimhub.wiring import Services

app = command_group("Groups: their roles and members.")
DisplayName = Annotated[str, typer.Argument(help="The displayName, in any case.", show_default=False)]


@app.command("list")
def list_groups(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """List every group, ordered by displayName, with its roles and member count."""
    with open_services(database_url) as hub:
        items = list(_every_group(hub))
    table = Table("displayName", "roles", "members", "id")
    print_items(
        items,
        as_json,
        table,
        lambda item: (item["displayName"], role_names(item["roles"]), str(item["memberCount"]), item["id"]),
    )


@app.command("show")
def show(
    display_name: DisplayName,
    members: Annotated[int, typer.Option("--members", min=0, help="How many members to list.")] = 20,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Show one group: its roles (held by every member), member count and first members."""
    with open_services(database_url) as hub:
        summary = hub.groups.find(display_name, first_members=members)
        roles = hub.roles.of_groups([summary.group.id])[summary.group.id]
    item = group_json(summary, roles)
    item["members"] = [{"id": m.value, "type": m.type, "name": m.display} for m in summary.first_members]
    if as_json:
        print_json(item)
        return
    about = properties(
        item["displayName"],
        (
            ("id", item["id"]),
            ("urn", item["urn"]),
            ("external id", item["externalId"] or ""),
            ("roles", role_names(item["roles"]) or "none"),
            ("members", str(item["memberCount"])),
            ("created", item["createdAt"]),
            ("last modified", item["lastModifiedAt"]),
        ),
    )
    shown = len(item["members"])
    listed = Table("member", "type", "id", title=f"First {shown} of {item['memberCount']} members")
    for member in item["members"]:
        listed.add_row(member["name"] or "", member["type"], member["id"])
    print_tables(*(table for table in (about, listed) if table.row_count))


def _every_group(hub: Services) -> Iterator[dict[str, Any]]:
    """Yield every group as a JSON object, a page at a time, with roles read per page."""
    for page in every_page(hub.groups.by_display_name):
        roles = hub.roles.of_groups([summary.group.id for summary in page.items])
        yield from (group_json(summary, roles[summary.group.id]) for summary in page.items)


@app.command("rename")
def rename(
    display_name: DisplayName,
    new_display_name: Annotated[str, typer.Argument(help="The new displayName.", show_default=False)],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a group's displayName (and so its URN); members and roles stay."""
    new = new_display_name.strip()
    if not new:
        raise InvalidValue("the new displayName is empty")
    with open_services(database_url) as hub:
        group = hub.groups.find(display_name).group
        view = hub.groups.update(
            SYSTEM, group.id, lambda stored: GroupEdit({**stored.doc, "displayName": new})
        )
    typer.echo(f"{group.display_name} is now {view.group.display_name} ({view.group.urn}).")


@app.command("delete")
def delete(
    display_name: DisplayName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a group for good, with its memberships and roles (its members stay)."""
    with open_services(database_url) as hub:
        group = hub.groups.find(display_name).group
        if not yes:
            typer.confirm(f"Delete the group {group.display_name} for good?", abort=True, err=True)
        hub.groups.delete(SYSTEM, group.id)
    typer.echo(f"Group {group.display_name} deleted.")
