"""Keep tokens whose owner is deleted

Revision ID: 45633be88b4b
Revises: 7c6b155e66e8
Create Date: 2026-11-29 00:53:40

A token's owner is the user who created it, not the one it acts as: deleting
the administrator who made Entra's token must not revoke Entra's token. The
owner becomes nullable and is set to NULL when that user is deleted (the actor
still cascades: a deleted user's own tokens die), and is indexed, so deleting
or updating a user no longer scans ``tokens`` (docs/benchmarks.md, finding 2).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "45633be88b4b"
down_revision: str | None = "7c6b155e66e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.String(length=36), nullable=True)
        batch_op.drop_constraint(batch_op.f("fk_tokens_owner_id_users"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_tokens_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_tokens_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    # An ownerless token is given its actor as owner, as the command line's tokens have.
    tokens = sa.table("tokens", sa.column("actor_id", sa.String()), sa.column("owner_id", sa.String()))
    op.execute(sa.update(tokens).where(tokens.c.owner_id.is_(None)).values(owner_id=tokens.c.actor_id))
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_owner_id"))
        batch_op.drop_constraint(batch_op.f("fk_tokens_owner_id_users"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_tokens_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.alter_column("owner_id", existing_type=sa.String(length=36), nullable=False)
