"""Share sign-in failures between processes and seal new tokens on their session

Revision ID: 3d824c95616c
Revises: a4c7e19b3d52
Create Date: 2026-12-04 15:00:00

ADR 0048. ``sign_in_failures`` moves the console's lock-out counts from each
process's memory into the database, so ``serve --workers N`` grants a guesser the
allowance once, not N times: one row per user name or address, keyed by the sha256
of the key, with the failure times still within the window, the lock's end, and when
the row means nothing any more (indexed: expired rows are pruned). ``console_sessions``
gets ``sealed`` and ``sealed_at``: a new token XORed with a pad only the browser
holds, kept from the POST that made it to the one GET that shows it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d824c95616c"
down_revision: str | None = "a4c7e19b3d52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(op.f("ix_sign_in_failures_expires"), "sign_in_failures", ["expires"], unique=False)
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sealed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_column("sealed_at")
        batch_op.drop_column("sealed")
    op.drop_index(op.f("ix_sign_in_failures_expires"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
