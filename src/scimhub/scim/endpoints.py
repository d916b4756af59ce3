"""Users and Groups behind one interface, so the handler serves both with one code path.

Each endpoint turns SCIM input (a read resource, PATCH operations) into the
directory's edits, and the directory's views back into representations. The
only difference that matters: a user's extra attribute is ``groups`` (derived,
read-only), a group's is ``members`` (rows, changed by set deltas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from scimhub.directory.actors import Actor
from scimhub.directory.groups import GroupEdit, Groups, GroupSnapshot, GroupView
from scimhub.directory.users import UserEdit, Users, UserView
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.domain.users import User
from scimhub.domain.versions import Versions
from scimhub.query.pages import Page, Query
from scimhub.query.schema import GROUP, USER, ResourceType
from scimhub.scim.patch import MAX_DOCUMENT_BYTES, apply_patch
from scimhub.scim.patch import Operation as PatchOperation
from scimhub.scim.resources import group_representation, user_representation
from scimhub.scim.values import Resource


class Endpoint(Protocol):
    """What the handler needs of one resource type."""

    resource_type: ResourceType
    extra: str
    """The attribute that costs a second query: ``groups`` or ``members``."""

    def get(self, id: str, extra: bool) -> Any:
        """Return the resource by id, with its ``extra`` attribute when asked."""

    def search(self, query: Query, extra: bool) -> Page[Any]:
        """Return one page of the resources the query selects (RFC 7644 §3.4.2)."""

    def create(self, actor: Actor, resource: Resource) -> Any:
        """Create the resource from a POST body (RFC 7644 §3.3)."""

    def replace(
        self, actor: Actor, id: str, resource: Resource, versions: Versions | None, extra: bool
    ) -> Any:
        """Replace the resource with a PUT body, if its version is one of ``versions`` (RFC 7644 §3.5.1)."""

    def patch(
        self,
        actor: Actor,
        id: str,
        operations: Sequence[PatchOperation],
        versions: Versions | None,
        extra: bool,
    ) -> Any:
        """Apply PATCH operations to the resource, if its version is one of ``versions`` (RFC 7644 §3.5.2)."""

    def delete(self, actor: Actor, id: str, versions: Versions | None) -> None:
        """Delete the resource, if its version is one of ``versions`` (RFC 7644 §3.6)."""

    def represent(self, view: Any, base_url: str) -> dict[str, Any]:
        """Render a view as its SCIM representation, its locations under ``base_url``."""

    def version(self, view: Any) -> int:
        """Return the version a view's ETag carries (RFC 7644 §3.14)."""


def _members(items: list[dict[str, str]]) -> tuple[Member, ...]:
    return tuple(Member(m["value"], m.get("type", "User"), m.get("display")) for m in items)


class UserEndpoint:
    """``/Users``."""

    resource_type = USER
    extra = "groups"

    def __init__(self, users: Users, max_document_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._users = users
        self._max_bytes = max_document_bytes

    def get(self, id: str, extra: bool) -> UserView:
        """Return the user, with its groups when asked."""
        return self._users.get(id, with_groups=extra)

    def search(self, query: Query, extra: bool) -> Page[UserView]:
        """Return one page of users, with their groups when asked."""
        return self._users.search(query, with_groups=extra)

    def create(self, actor: Actor, resource: Resource) -> UserView:
        """Create a user from a POST body."""
        # A new user belongs to no group yet: no need to ask the database.
        return UserView(self._users.create(actor, UserEdit(resource.doc, resource.password)), [])

    def replace(
        self, actor: Actor, id: str, resource: Resource, versions: Versions | None, extra: bool
    ) -> UserView:
        """Replace a user with a PUT body."""
        edit = UserEdit(resource.doc, resource.password)
        return self._users.update(actor, id, lambda _: edit, versions, with_groups=extra)

    def patch(
        self,
        actor: Actor,
        id: str,
        operations: Sequence[PatchOperation],
        versions: Versions | None,
        extra: bool,
    ) -> UserView:
        """Apply PATCH operations to a user's document."""

        def edit(user: User) -> UserEdit:
            result = apply_patch(
                USER, user.doc, operations, max_bytes=self._max_bytes, unchanged={"id": user.id}
            )
            return UserEdit(result.doc, result.password)

        return self._users.update(actor, id, edit, versions, with_groups=extra)

    def delete(self, actor: Actor, id: str, versions: Versions | None) -> None:
        """Delete a user."""
        self._users.delete(actor, id, versions)

    def represent(self, view: UserView, base_url: str) -> dict[str, Any]:
        """Render a user as its SCIM representation."""
        return user_representation(view, base_url)

    def version(self, view: UserView) -> int:
        """Return the user's version."""
        return view.user.version


class GroupEndpoint:
    """``/Groups``."""

    resource_type = GROUP
    extra = "members"

    def __init__(self, groups: Groups, max_document_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._groups = groups
        self._max_bytes = max_document_bytes

    def get(self, id: str, extra: bool) -> GroupView:
        """Return the group, with its members when asked."""
        return self._groups.get(id, with_members=extra)

    def open(self, id: str) -> GroupSnapshot:
        """Return the group in a read transaction left open for its members; the caller closes it."""
        return self._groups.open(id)

    def search(self, query: Query, extra: bool) -> Page[GroupView]:
        """Return one page of groups, with their members when asked."""
        return self._groups.search(query, with_members=extra)

    def create(self, actor: Actor, resource: Resource) -> GroupView:
        """Create a group and its members from a POST body."""
        members = MemberChange(add=_members(resource.members or []))
        group = self._groups.create(actor, GroupEdit(resource.doc, members))
        return self._groups.get(group.id, with_members=True) if members.add else GroupView(group, [])

    def replace(
        self, actor: Actor, id: str, resource: Resource, versions: Versions | None, extra: bool
    ) -> GroupView:
        """Replace a group with a PUT body, keeping its members when the body has none."""
        # PUT without ``members`` keeps them: RFC 7644 §3.5.1 lets the server decide,
        # and clearing a group because a client left out an attribute loses data.
        members = (
            MemberChange() if resource.members is None else MemberChange(True, _members(resource.members))
        )
        edit = GroupEdit(resource.doc, members)
        return self._groups.update(actor, id, lambda _: edit, versions, with_members=extra)

    def patch(
        self,
        actor: Actor,
        id: str,
        operations: Sequence[PatchOperation],
        versions: Versions | None,
        extra: bool,
    ) -> GroupView:
        """Apply PATCH operations to a group's document and members."""

        def edit(group: Group) -> GroupEdit:
            result = apply_patch(
                GROUP, group.doc, operations, max_bytes=self._max_bytes, unchanged={"id": group.id}
            )
            change = result.members
            if change is None:
                return GroupEdit(result.doc)
            return GroupEdit(
                result.doc, MemberChange(change.clear, _members(change.add), frozenset(change.remove))
            )

        return self._groups.update(actor, id, edit, versions, with_members=extra)

    def delete(self, actor: Actor, id: str, versions: Versions | None) -> None:
        """Delete a group."""
        self._groups.delete(actor, id, versions)

    def represent(self, view: GroupView, base_url: str) -> dict[str, Any]:
        """Render a group as its SCIM representation."""
        return group_representation(view, base_url)

    def version(self, view: GroupView) -> int:
        """Return the group's version."""
        return view.group.version
