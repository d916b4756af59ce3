"""Users: DataHub's ``corpuser`` as provisioned over SCIM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from scimhub.domain.roles import ROLE_NAMES, Role, find_role
from scimhub.errors import InvalidValue


def user_urn(user_name: str) -> str:
    """Return the DataHub URN of a user: ``urn:li:corpuser:<userName>``.

    Characters DataHub's URN syntax reserves (``,()``) and whitespace are
    percent-encoded, the way DataHub's own ``make_user_urn`` leaves plain names alone.
    """
    return "urn:li:corpuser:" + quote(user_name, safe="@.-_+~!*'=:;&$/")


def user_name_of(urn: str) -> str | None:
    """Return the userName a ``urn:li:corpuser:`` URN names (percent-decoded), or None for another URN."""
    prefix, _, name = urn.partition("urn:li:corpuser:")
    if prefix or not name:
        return None
    return unquote(name)


def provisioned_roles(doc: dict[str, Any]) -> frozenset[Role]:
    """Return the roles a user's SCIM ``roles`` attribute names, by ``value`` in any case.

    Every element counts, primary or not (DataHub has no primary role; Entra's
    complex mappings send every role with ``primary`` false). An element without a
    ``value`` names no role and grants nothing: Entra may map ``roles[primary eq
    "True"].display`` or ``.type`` alone (docs/entra-client.md §5.1).

    :raises InvalidValue: When a value names none of DataHub's roles; the detail
        lists the allowed ones.
    """
    roles = set()
    for element in doc.get("roles", ()):
        value = element.get("value") if isinstance(element, dict) else element
        if value is None:
            continue
        role = find_role(value) if isinstance(value, str) else None
        if role is None:
            raise InvalidValue(f"roles: {value!r} is not a role; the roles are {ROLE_NAMES}")
        roles.add(role)
    return frozenset(roles)


@dataclass(frozen=True)
class User:
    """A stored user: the document the client sent plus what the server derives."""

    id: str
    """Opaque, stable SCIM id (not the URN, which is DataHub's key)."""
    doc: dict[str, Any]
    """Every client-writable attribute exactly as sent, in canonical SCIM form."""
    version: int
    created: int
    """Microseconds since the epoch."""
    last_modified: int
    password_hash: str | None = None
    created_urn: str | None = None
    """The URN made from the userName the user was created with; it never changes,
    not even when the userName does (ADR 0008). None for a record not stored yet."""

    @property
    def user_name(self) -> str:
        """Return the SCIM userName."""
        return str(self.doc["userName"])

    @property
    def active(self) -> bool:
        """Tell whether the user is active; a user without ``active`` is (DataHub's default)."""
        return self.doc.get("active", True) is not False

    @property
    def urn(self) -> str:
        """Return the user's ``urn:li:corpuser:`` URN: the one from creation (ADR 0008).

        DataHub's ``corpUserKey`` is immutable, so a renamed user (an Entra UPN
        change) keeps its URN, its ownerships, memberships and tokens; a record not
        stored yet takes the URN of its userName.
        """
        return self.created_urn if self.created_urn is not None else user_urn(self.user_name)

    @property
    def provisioned_roles(self) -> frozenset[Role]:
        """Return the roles the SCIM client gave this user (validated when written)."""
        return provisioned_roles(self.doc)
