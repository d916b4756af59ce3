"""Add user and group roles

Revision ID: c1e417bfc9ba
Revises: d9335d64bcff
Create Date: 2026-11-28 21:13:09.926650
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1e417bfc9ba"
down_revision: str | None = "d9335d64bcff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_roles",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_roles_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "role", name=op.f("pk_group_roles")),
    )
    with op.batch_alter_table("group_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_roles_role"), ["role"], unique=False)

    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", "source", name=op.f("pk_user_roles")),
    )
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_roles_role"), ["role"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_roles_role"))

    op.drop_table("user_roles")
    with op.batch_alter_table("group_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_roles_role"))

    op.drop_table("group_roles")
