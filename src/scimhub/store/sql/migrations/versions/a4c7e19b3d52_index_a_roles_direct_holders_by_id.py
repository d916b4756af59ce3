"""Index a role's direct holders by id

Revision ID: a4c7e19b3d52
Revises: e3a9c4f1d2b8
Create Date: 2026-12-04 12:20:00

The console's Roles pages list a role's direct holders a page at a time, after the
last id shown (ADR 0045). The index on ``role`` alone finds every holder of a role
but not in id order, so a page sorted all of them; on ``(role, user_id)`` and
``(role, group_id)`` a page is one range of the index, whatever the number of holders.
The new indexes serve what the old ones did (a role's rows), so those go.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a4c7e19b3d52"
down_revision: str | None = "e3a9c4f1d2b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOLDERS = (("user_roles", "user_id"), ("group_roles", "group_id"))


def upgrade() -> None:
    for table, holder in _HOLDERS:
        op.create_index(f"ix_{table}_role_{holder}", table, ["role", holder])
        op.drop_index(f"ix_{table}_role", table_name=table)


def downgrade() -> None:
    for table, holder in _HOLDERS:
        op.create_index(f"ix_{table}_role", table, ["role"])
        op.drop_index(f"ix_{table}_role_{holder}", table_name=table)
