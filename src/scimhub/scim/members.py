"""Group members in a PATCH: a delta on membership rows, never the whole group.

Members are rows, not part of the document, and a PATCH must not load them
(docs/architecture.md §4: member PATCH cost does not grow with group size). Member operations
therefore build a ``MemberChange`` delta, and only selections that name member
ids (``members[value eq "id" or value eq "id2"]``) can be evaluated; any other
member filter is refused with invalidFilter. Entra's removal by a value array
(docs/entra-client.md quirk #7) reaches this module already split into such selections by
``entra.split_remove_by_value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scimhub.errors import InvalidFilter
from scimhub.query.filter.tree import Compare, Filter, Or


@dataclass(frozen=True)
class MemberChange:
    """What a PATCH does to a Group's member rows, as a delta.

    Apply it as: delete all rows when ``clear``, then delete ``remove``, then insert
    ``add``; ``add`` and ``remove`` never share an id, so the order between them
    cannot matter.
    """

    clear: bool = False
    add: list[dict[str, str]] = field(default_factory=list)
    """Members to insert (``{value, type?, display?}``), in the order sent."""
    remove: set[str] = field(default_factory=set)
    """Ids of members to delete."""


@dataclass
class MemberDelta:
    """The member delta being built, operation by operation; ``add`` keyed by id stays free of duplicates."""

    clear: bool = False
    add: dict[str, dict[str, str]] = field(default_factory=dict)
    remove: set[str] = field(default_factory=set)

    def change(
        self,
        op: Literal["add", "remove", "replace"],
        selection: Filter | None,
        members: list[dict[str, str]] | None,
    ) -> None:
        """Apply one member operation: ``members`` read for add and replace, ``selection`` for remove.

        :raises InvalidFilter: When the selection names more than ids.
        """
        if op == "remove":  # RFC 7644 §3.5.2.2: without a filter, all values
            self._remove(member_ids(selection) if selection is not None else None)
            return
        if op == "replace":
            self._remove(None)
        for member in members or ():
            self.remove.discard(member["value"])
            self.add[member["value"]] = member

    def _remove(self, ids: set[str] | None) -> None:
        if ids is None:  # all of them
            self.clear, self.add, self.remove = True, {}, set()
            return
        for member_id in ids:
            self.add.pop(member_id, None)
            if not self.clear:  # after a clear the stored rows are gone already
                self.remove.add(member_id)

    def freeze(self) -> MemberChange:
        """Return the delta as the ``MemberChange`` the directory applies."""
        return MemberChange(self.clear, list(self.add.values()), self.remove)


def member_ids(selection: Filter) -> set[str]:
    """Return the ids ``value eq "id" [or value eq "id2" …]`` selects.

    :raises InvalidFilter: For any other filter, which would need the members loaded.
    """
    ids: set[str] = set()
    pending = [selection]  # a loop, not recursion: a long ``or`` chain nests deep
    while pending:
        node = pending.pop()
        if isinstance(node, Or):
            pending += (node.left, node.right)
        elif (
            isinstance(node, Compare)
            and node.op == "eq"
            and node.path.sub is not None
            and node.path.sub.name == "value"
            and isinstance(node.value, str)
        ):
            ids.add(node.value)
        else:
            raise InvalidFilter(
                'members can only be selected by id: members[value eq "id" or value eq "id2"]'
            )
    return ids
