"""Row locks: what a write holds on the rows it changes, deletes or refers to (ADR 0020)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import Select


class RowLock(Enum):
    """Name the row locks reads take (ADR 0020), as PostgreSQL does.

    SQLite ignores them: its writers run one at a time (``BEGIN IMMEDIATE``).
    """

    NONE = None
    CHANGE = {"key_share": True}
    """FOR NO KEY UPDATE: no other writer changes or deletes the row; others may still refer to it."""
    DELETE = dict[str, bool]()
    """FOR UPDATE: as CHANGE, and nobody refers to the row anew until the transaction ends."""
    REFER = {"read": True, "key_share": True}
    """FOR KEY SHARE: the row is not deleted until the transaction ends (what a foreign key check takes)."""

    def on(self, statement: Select[Any]) -> Select[Any]:
        """Return ``statement`` taking this lock on the rows it reads."""
        return statement if self.value is None else statement.with_for_update(**self.value)
