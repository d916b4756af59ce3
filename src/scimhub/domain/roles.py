"""DataHub's built-in roles and the platform privileges they grant.

The three roles are fixed, like DataHub's (``boot/roles.json``, "editable": false),
and so are their privileges (DataHub's ``docs/authorization/roles.md``;
docs/datahub.md §2.4). A user's effective roles are its direct roles and
the roles of every group it belongs to (DataHub's ``rolesViaGroups``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Privilege(StrEnum):
    """DataHub's platform privileges (``PoliciesConfig.java``)."""

    GENERATE_PERSONAL_ACCESS_TOKENS = "GENERATE_PERSONAL_ACCESS_TOKENS"
    MANAGE_DOMAINS = "MANAGE_DOMAINS"
    MANAGE_GLOSSARIES = "MANAGE_GLOSSARIES"
    MANAGE_TAGS = "MANAGE_TAGS"
    MANAGE_POLICIES = "MANAGE_POLICIES"
    MANAGE_INGESTION = "MANAGE_INGESTION"
    MANAGE_SECRETS = "MANAGE_SECRETS"
    MANAGE_USERS_AND_GROUPS = "MANAGE_USERS_AND_GROUPS"
    MANAGE_ACCESS_TOKENS = "MANAGE_ACCESS_TOKENS"
    MANAGE_USER_CREDENTIALS = "MANAGE_USER_CREDENTIALS"
    MANAGE_GLOBAL_VIEWS = "MANAGE_GLOBAL_VIEWS"
    VIEW_ANALYTICS = "VIEW_ANALYTICS"
    GET_PLATFORM_EVENTS = "GET_PLATFORM_EVENTS"


class Role(StrEnum):
    """The built-in roles, by their DataHub names."""

    ADMIN = "Admin"
    EDITOR = "Editor"
    READER = "Reader"

    @property
    def urn(self) -> str:
        """Return ``urn:li:dataHubRole:<name>``."""
        return f"urn:li:dataHubRole:{self.value}"

    @property
    def description(self) -> str:
        """Return DataHub's description of the role."""
        return _DESCRIPTIONS[self]

    @property
    def privileges(self) -> frozenset[Privilege]:
        """Return the platform privileges the role grants."""
        return _PRIVILEGES[self]

    @property
    def rank(self) -> int:
        """Return how much the role may do: Admin 3, Editor 2, Reader 1."""
        return _RANKS[self]


_EDITOR = frozenset(
    {
        Privilege.GENERATE_PERSONAL_ACCESS_TOKENS,
        Privilege.MANAGE_DOMAINS,
        Privilege.MANAGE_GLOSSARIES,
        Privilege.MANAGE_TAGS,
    }
)
_PRIVILEGES: dict[Role, frozenset[Privilege]] = {
    Role.ADMIN: frozenset(Privilege),
    Role.EDITOR: _EDITOR,
    Role.READER: frozenset(),
}
_DESCRIPTIONS = {
    Role.ADMIN: "Can do everything on the platform.",
    Role.EDITOR: "Can read and edit all metadata. Cannot take administrative actions.",
    Role.READER: "Can read all metadata. Cannot edit anything by default, or take administrative actions.",
}
_RANKS = {Role.ADMIN: 3, Role.EDITOR: 2, Role.READER: 1}
ROLE_NAMES = ", ".join(role.value for role in Role)


def find_role(name: str) -> Role | None:
    """Return the role called ``name`` in any case (``admin``, ``ADMIN``), or its URN; else None."""
    key = name.strip().lower().removeprefix("urn:li:datahubrole:")
    return next((role for role in Role if role.value.lower() == key), None)


def privileges_of(roles: Iterable[Role]) -> frozenset[Privilege]:
    """Return the union of the privileges of ``roles``."""
    granted: frozenset[Privilege] = frozenset()
    for role in roles:
        granted |= role.privileges
    return granted
