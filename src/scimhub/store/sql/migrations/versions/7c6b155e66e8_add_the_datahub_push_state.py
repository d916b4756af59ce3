"""Add the DataHub push state

The push's checkpoint and lease, and what it wrote into DataHub (ADR 0013).

Revision ID: 7c6b155e66e8
Revises: 104ae6c5b11e
Create Date: 2026-11-28 21:55:46.387807
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c6b155e66e8"
down_revision: str | None = "104ae6c5b11e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datahub_push_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("last_success", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_datahub_push_state")),
    )
    op.create_table(
        "datahub_pushed_entities",
        sa.Column("urn", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("pushed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("urn", name=op.f("pk_datahub_pushed_entities")),
    )
    with op.batch_alter_table("datahub_pushed_entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datahub_pushed_entities_scim_id"), ["scim_id"], unique=False)

    op.create_table(
        "datahub_pushed_memberships",
        sa.Column("user_urn", sa.Text(), nullable=False),
        sa.Column("group_urn", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_urn"],
            ["datahub_pushed_entities.urn"],
            name=op.f("fk_datahub_pushed_memberships_user_urn_datahub_pushed_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_urn", "group_urn", name=op.f("pk_datahub_pushed_memberships")),
    )
    with op.batch_alter_table("datahub_pushed_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_datahub_pushed_memberships_group_urn"), ["group_urn"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("datahub_pushed_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datahub_pushed_memberships_group_urn"))

    op.drop_table("datahub_pushed_memberships")
    with op.batch_alter_table("datahub_pushed_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datahub_pushed_entities_scim_id"))

    op.drop_table("datahub_pushed_entities")
    op.drop_table("datahub_push_state")
