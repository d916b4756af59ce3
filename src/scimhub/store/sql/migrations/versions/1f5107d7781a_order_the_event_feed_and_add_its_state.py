"""Order the event feed and add its state

Revision ID: 1f5107d7781a
Revises: c1e417bfc9ba
Create Date: 2026-11-28 21:34:14.565282

ADR 0011: ``events.seq`` must never be handed out twice, so SQLite's table is
rebuilt with AUTOINCREMENT (a plain rowid reuses the numbers of deleted rows);
``event_feed`` holds the stream id offsets carry and how far pruning went; the
audit view's filters get (column, seq) indexes.
"""

import uuid
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "1f5107d7781a"
down_revision: str | None = "c1e417bfc9ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_on_sqlite() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    event_feed = op.create_table(
        "event_feed",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_feed")),
    )
    op.bulk_insert(event_feed, [{"id": 1, "stream": uuid.uuid4().hex[:16], "pruned_through": 0}])
    with op.batch_alter_table(
        "events", schema=None, recreate=_rebuild_on_sqlite(), table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_entity_urn"))
        batch_op.create_index(batch_op.f("ix_events_actor_seq"), ["actor", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_entity_urn_seq"), ["entity_urn", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_entity_urn_seq"))
        batch_op.drop_index(batch_op.f("ix_events_actor_seq"))
        batch_op.create_index(batch_op.f("ix_events_entity_urn"), ["entity_urn"], unique=False)

    op.drop_table("event_feed")
