"""Keep each user's URN from its creation

Revision ID: 104ae6c5b11e
Revises: 1f5107d7781a
Create Date: 2026-11-28 21:36:04.966765

ADR 0008: a user's DataHub URN is made from the userName it was created with and
never follows a rename, so it is stored. Existing users get the URN of their
current userName, which is what every event so far has named them by.
"""

from collections.abc import Sequence
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision: str = "104ae6c5b11e"
down_revision: str | None = "1f5107d7781a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _urn(user_name: str) -> str:
    # domain.users.user_urn as of this revision, frozen here so the migration never changes
    return "urn:li:corpuser:" + quote(user_name, safe="@.-_+~!*'=:;&$/")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urn", sa.Text(), nullable=True))
    users = sa.table(
        "users", sa.column("id", sa.String()), sa.column("user_name", sa.Text()), sa.column("urn", sa.Text())
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.user_name)).all()
    for id, user_name in rows:
        bind.execute(sa.update(users).where(users.c.id == id).values(urn=_urn(user_name)))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("urn", existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_urn"), ["urn"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_urn"), type_="unique")
        batch_op.drop_column("urn")
