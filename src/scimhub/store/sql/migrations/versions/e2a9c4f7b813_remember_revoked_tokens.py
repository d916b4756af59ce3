"""Remember revoked tokens

Revision ID: e2a9c4f7b813
Revises: b7d3e5a1c920
Create Date: 2026-12-04 09:00:00

A revoked token's row was deleted, so a second revoke said "no token has the id" and a deleted
user's token was refused as "revoked". The id, actor, reason and time of each revocation are
kept (never the hash), so both can be told apart. Tokens revoked before this revision are not
remembered: they are refused as revoked, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2a9c4f7b813"
down_revision: str | None = "b7d3e5a1c920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("revoked", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_tokens")),
    )


def downgrade() -> None:
    op.drop_table("revoked_tokens")
