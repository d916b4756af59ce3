"""Keep each group's URN from its creation

Revision ID: e4a7c2b9d061
Revises: e2a9c4f7b813
Create Date: 2026-12-04 09:00:00.000000

ADR 0037: a group's DataHub URN is made from the displayName it was created with and
never follows a rename, as a user's does (ADR 0008), so it is stored. Existing groups
get the URN of their current displayName, which is what every event so far has named
them by, and what the DataHub push has pushed them as.
"""

from collections.abc import Sequence
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision: str = "e4a7c2b9d061"
down_revision: str | None = "e2a9c4f7b813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _urn(display_name: str) -> str:
    # domain.groups.group_urn as of this revision, frozen here so the migration never changes
    return "urn:li:corpGroup:" + quote(display_name, safe="@.-_+~!*'=:;&$/ ")


def upgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urn", sa.Text(), nullable=True))
    groups = sa.table(
        "groups",
        sa.column("id", sa.String()),
        sa.column("display_name", sa.Text()),
        sa.column("urn", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(groups.c.id, groups.c.display_name)).all()
    for id, display_name in rows:
        bind.execute(sa.update(groups).where(groups.c.id == id).values(urn=_urn(display_name)))
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.alter_column("urn", existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_groups_urn"), ["urn"])


def downgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_groups_urn"), type_="unique")
        batch_op.drop_column("urn")
