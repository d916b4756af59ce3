"""Index the groups nested in groups

Revision ID: e9aff5af209d
Revises: 3d824c95616c
Create Date: 2026-12-04 15:30:00

A role given to a group reaches the members of the groups nested in it. The walk down from
such a group follows its member groups only (``searches.conferring``), but the membership key
``(group_id, member_id)`` holds every member: a group of 10,000 users was read row by row,
each row's type checked in the table. A partial index of the rows whose member is a group
makes that step one range of nested groups, whatever the number of member users (ADR 0045).
It holds only group-in-group rows, so adding or removing a user member never writes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e9aff5af209d"
down_revision: str | None = "3d824c95616c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NESTED = sa.text("member_type = 'Group'")


def upgrade() -> None:
    op.create_index(
        "ix_group_members_nested",
        "group_members",
        ["group_id", "member_id"],
        sqlite_where=_NESTED,
        postgresql_where=_NESTED,
    )


def downgrade() -> None:
    op.drop_index("ix_group_members_nested", table_name="group_members")
