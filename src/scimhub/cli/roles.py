"""``scimhub role list|assign|unassign`` (docs/architecture.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from scimhub.cli.help import command_group
from scimhub.cli.options import DatabaseUrl, Json, open_services
from scimhub.cli.output import print_items
from scimhub.directory.actors import SYSTEM
from scimhub.domain.roles import ROLE_NAMES, Role, find_role
from scimhub.errors import InvalidValue
from scimhub.wiring import Services

app = command_group("DataHub's roles Admin, Editor and Reader, and who holds them.")

RoleName = Annotated[
    str, typer.Option("--role", help="Admin, Editor or Reader (any case).", show_default=False)
]
UserName = Annotated[str | None, typer.Option("--user", help="The userName to give it to or take it from.")]
GroupName = Annotated[
    str | None, typer.Option("--group", help="The group displayName (any case); every member holds it.")
]


@dataclass(frozen=True)
class _Principal:
    """The user or group a command names, as stored."""

    kind: str
    """``user`` or ``group``, as ``Roles.assign`` takes it."""
    id: str
    name: str

    def __str__(self) -> str:
        """Return ``user bjensen`` or ``group Data Team``."""
        return f"{self.kind} {self.name}"

    def capitalize(self) -> str:
        """Return ``User bjensen`` or ``Group Data Team``, to start a sentence."""
        return f"{self.kind.capitalize()} {self.name}"


@app.command("list")
def list_roles(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """List the roles with their privileges and who holds each one directly."""
    with open_services(database_url) as hub:
        items = [_role_item(hub, role) for role in sorted(Role, key=lambda role: -role.rank)]
    table = Table("role", "description", "privileges", "users", "groups")
    print_items(
        items,
        as_json,
        table,
        lambda item: (
            item["name"],
            item["description"],
            *(str(len(item[key])) for key in ("privileges", "users", "groups")),
        ),
    )


@app.command("assign")
def assign(
    role: RoleName, user: UserName = None, group: GroupName = None, database_url: DatabaseUrl = None
) -> None:
    """Give a user or a group a role; a group's role is held by every member."""
    _change(role, user, group, database_url, assign=True)


@app.command("unassign")
def unassign(
    role: RoleName, user: UserName = None, group: GroupName = None, database_url: DatabaseUrl = None
) -> None:
    """Take an assigned role from a user or a group; roles provisioned over SCIM stay."""
    _change(role, user, group, database_url, assign=False)


_SAID = {
    True: ("Assigned {role} to {principal}.", "{Principal} already had {role} assigned."),
    False: ("Took {role} from {principal}.", "{Principal} had no {role} assigned."),
}
"""What ``assign`` (True) and ``unassign`` (False) print when they changed something, and when not."""


def _change(
    role: str, user: str | None, group: str | None, database_url: str | None, *, assign: bool
) -> None:
    """Assign or unassign the role the command line names, to or from the user or group it names; say so.

    Unassigning a role the user also holds through its SCIM ``roles`` attribute
    says that it stays: only the SCIM client changes that attribute.
    """
    chosen = _read_role(role)
    with open_services(database_url) as hub:
        principal = _principal(hub, user, group)
        write = hub.roles.assign if assign else hub.roles.unassign
        changed = write(SYSTEM, chosen, principal.kind, principal.id)
        provisioned = principal.kind == "user" and any(
            grant.role is chosen and grant.source == "provisioned"
            for grant in hub.roles.of_users([principal.id])[principal.id].direct
        )
    said = _SAID[assign][0 if changed else 1]
    typer.echo(said.format(role=chosen.value, principal=principal, Principal=principal.capitalize()))
    if provisioned and not assign:
        typer.echo(
            f"{principal.name} still holds {chosen.value} through its SCIM roles attribute,"
            " which only SCIM changes."
        )


def _read_role(text: str) -> Role:
    """Return the role named ``text``. :raises InvalidValue: Naming the roles there are."""
    role = find_role(text)
    if role is None:
        raise InvalidValue(f"{text!r} is not a role; the roles are {ROLE_NAMES}")
    return role


def _principal(hub: Services, user: str | None, group: str | None) -> _Principal:
    """Return the user or the group named on the command line.

    :raises InvalidValue: Unless exactly one of them is named.
    :raises NotFound: When no user or group has that name.
    """
    if (user is None) == (group is None):
        raise InvalidValue("name exactly one of --user USERNAME or --group DISPLAYNAME")
    if user is not None:
        found = hub.users.find(user).user
        return _Principal("user", found.id, found.user_name)
    summary = hub.groups.find(str(group))
    return _Principal("group", summary.group.id, summary.group.display_name)


def _role_item(hub: Services, role: Role) -> dict[str, Any]:
    """Return a role as the JSON object ``role list`` prints, with its direct holders."""
    holders = hub.roles.holders(role)
    return {
        "name": role.value,
        "urn": role.urn,
        "description": role.description,
        "privileges": sorted(privilege.value for privilege in role.privileges),
        "users": [{"id": h.id, "userName": h.name, "source": h.source} for h in holders if h.kind == "user"],
        "groups": [{"id": h.id, "displayName": h.name} for h in holders if h.kind == "group"],
    }
