"""``scimhub user list|show|set-password|disable-password|suspend|reactivate|rename|delete``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.table import Table

from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, open_services
from scimhub.cli.output import (
    every_page,
    print_items,
    print_json,
    print_tables,
    properties,
    role_names,
    yes_no,
)
from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, UserView
from scimhub.errors import InvalidValue
from scimhub.representations import user_json
from scimhub.wiring import Services

app = command_group("Users: who they are, their groups and roles, and local passwords.")
UserName = Annotated[str, typer.Argument(help="The userName, in any case.", show_default=False)]


@app.command("list")
def list_users(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """List every user, ordered by userName, with its effective roles."""
    with open_services(database_url) as hub:
        items = list(_every_user(hub))
    table = Table("userName", "display name", "active", "password", "effective roles", "groups")
    print_items(
        items,
        as_json,
        table,
        lambda item: (
            item["userName"],
            item["displayName"] or "",
            yes_no(item["active"]),
            yes_no(item["passwordSignIn"]),
            role_names(item["roles"]["effective"]),
            str(len(item["groups"])),
        ),
    )


@app.command("show")
def show(user_name: UserName, as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """Show one user: attributes, groups, and roles direct, inherited (with the group) and effective."""
    with open_services(database_url) as hub:
        view = hub.users.find(user_name, with_groups=True)
        roles = hub.roles.of_users([view.user.id])[view.user.id]
    item = user_json(view, roles)
    if as_json:
        print_json(item)
        return
    about = properties(
        item["userName"],
        (
            ("id", item["id"]),
            ("urn", item["urn"]),
            ("display name", item["displayName"] or ""),
            ("external id", item["externalId"] or ""),
            ("active", yes_no(item["active"])),
            ("password sign-in", yes_no(item["passwordSignIn"])),
            ("created", item["createdAt"]),
            ("last modified", item["lastModifiedAt"]),
            ("effective roles", role_names(item["roles"]["effective"]) or "none"),
        ),
    )
    grants = Table("role", "held", title="Roles")
    for direct in item["roles"]["direct"]:
        grants.add_row(direct["role"], f"direct ({direct['source']})")
    for inherited in item["roles"]["inherited"]:
        grants.add_row(inherited["role"], f"inherited from group {inherited['group']['displayName']}")
    groups = Table("group", "id", title="Groups")
    for group in item["groups"]:
        groups.add_row(group["displayName"], group["id"])
    print_tables(*(table for table in (about, grants, groups) if table.row_count))


@app.command("set-password")
def set_password(
    user_name: UserName,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input, not a prompt.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Let a user sign in to the console with a password (never taken from the command line)."""
    with open_services(database_url) as hub:
        hub.users.find(user_name)  # an unknown name fails before the password is typed
        password = _read_stdin_password() if password_stdin else _prompt_password()
        hub.accounts.set_password(SYSTEM, user_name, password)
    typer.echo(f"Password sign-in enabled for {user_name}.")


@app.command("disable-password")
def disable_password(user_name: UserName, database_url: DatabaseUrl = None) -> None:
    """Stop a user signing in with a password; its tokens keep working."""
    with open_services(database_url) as hub:
        had_one = hub.accounts.disable_password(SYSTEM, user_name)
    typer.echo(f"Password sign-in disabled for {user_name}." if had_one else f"{user_name} had no password.")


def _prompt_password() -> str:
    return str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))


def _read_stdin_password() -> str:
    """Return the password piped in, without the one line break that ends it (like ``docker login``).

    :raises InvalidValue: When standard input is a terminal: it would echo the password.
    """
    if sys.stdin.isatty():
        raise InvalidValue("--password-stdin reads a pipe; run without it to be prompted for the password")
    text = sys.stdin.read()
    return text.removesuffix("\n").removesuffix("\r")


def _every_user(hub: Services) -> Iterator[dict[str, Any]]:
    """Yield every user as a JSON object, a page at a time, with groups and roles read per page."""
    for page in every_page(lambda offset, limit: hub.users.by_user_name(offset, limit, with_groups=True)):
        roles = hub.roles.of_users([view.user.id for view in page.items])
        yield from (user_json(view, roles[view.user.id]) for view in page.items)


def _set(hub: Services, user_name: str, **changes: Any) -> tuple[UserView, bool]:
    """Set top-level attributes of a user through the directory (one change event each, as SCIM writes).

    Return the user as stored and whether anything changed.
    """
    found = hub.users.find(user_name)
    view = hub.users.update(SYSTEM, found.user.id, lambda user: UserEdit({**user.doc, **changes}))
    return view, view.user.version != found.user.version


@app.command("suspend")
def suspend(user_name: UserName, database_url: DatabaseUrl = None) -> None:
    """Suspend a user (active: false, as Entra does): its tokens and password stop working; it is kept."""
    with open_services(database_url) as hub:
        view, changed = _set(hub, user_name, active=False)
    typer.echo(f"{view.user.user_name} {'suspended' if changed else 'was suspended already'}.")


@app.command("reactivate")
def reactivate(user_name: UserName, database_url: DatabaseUrl = None) -> None:
    """Reactivate a suspended user (active: true): its tokens and password work again."""
    with open_services(database_url) as hub:
        view, changed = _set(hub, user_name, active=True)
    typer.echo(f"{view.user.user_name} {'reactivated' if changed else 'was active already'}.")


@app.command("rename")
def rename(
    user_name: UserName,
    new_user_name: Annotated[str, typer.Argument(help="The new userName.", show_default=False)],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a user's userName; its URN, groups, roles and tokens stay (ADR 0008)."""
    new = new_user_name.strip()
    if not new:
        raise InvalidValue("the new userName is empty")
    with open_services(database_url) as hub:
        view, _ = _set(hub, user_name, userName=new)
    typer.echo(f"{user_name} is now {view.user.user_name} ({view.user.urn}).")


@app.command("delete")
def delete(
    user_name: UserName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a user for good, with its memberships, roles and tokens (SCIM DELETE does the same)."""
    with open_services(database_url) as hub:
        view = hub.users.find(user_name)
        if not yes:
            typer.confirm(f"Delete {view.user.user_name} and its tokens for good?", abort=True, err=True)
        hub.users.delete(SYSTEM, view.user.id)
    typer.echo(f"{view.user.user_name} deleted.")
