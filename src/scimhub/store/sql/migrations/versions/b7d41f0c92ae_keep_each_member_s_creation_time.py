"""Keep each member's and each role holder's creation time with the row

Revision ID: b7d41f0c92ae
Revises: e9aff5af209d
Create Date: 2026-12-04 19:40:00

ADR 0052. A user's ``created`` never changes, so ``group_members`` and ``user_roles`` can keep a
copy of it, indexed with the group or the role: the console's Users list filtered by a role reads
its holders newest or oldest first from those index ranges, a page of them at a time, instead of
probing every holder's row for its creation time. Existing rows are filled from ``users``; a
nested group's row keeps NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d41f0c92ae"
down_revision: str | None = "e9aff5af209d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("group_members", sa.Column("member_created", sa.BigInteger(), nullable=True))
    op.add_column("user_roles", sa.Column("user_created", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE group_members SET member_created = "
        "(SELECT created FROM users WHERE users.id = group_members.member_id) "
        "WHERE member_type <> 'Group'"
    )
    op.execute(
        "UPDATE user_roles SET user_created = (SELECT created FROM users WHERE users.id = user_roles.user_id)"
    )
    op.create_index(
        op.f("ix_group_members_group_id_member_created_member_id"),
        "group_members",
        ["group_id", "member_created", "member_id"],
    )
    op.create_index(
        op.f("ix_user_roles_role_user_created_user_id"), "user_roles", ["role", "user_created", "user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_user_roles_role_user_created_user_id"), table_name="user_roles")
    op.drop_index(op.f("ix_group_members_group_id_member_created_member_id"), table_name="group_members")
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_column("user_created")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_column("member_created")
