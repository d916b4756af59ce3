"""Queue events until they are numbered after their commit

Revision ID: 5b0e7d3c2a41
Revises: e9aff5af209d
Create Date: 2026-12-04 17:40:00

ADR 0011 numbered events under an advisory lock held through ``COMMIT``, so every write carrying
events committed one at a time. ADR 0050 lets writes commit together: a write inserts its events
into ``event_queue`` (an ``id`` from its own sequence, no ``seq``), commits, and a short pass
under the lock moves the queued rows into ``events``, numbering them in ``id`` order. ``events``
keeps its shape, its ``seq`` sequence and every reader's query. SQLite keeps numbering at insert
(one writer at a time) and leaves this table empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5b0e7d3c2a41"
down_revision: str | None = "e9aff5af209d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_queue",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("writer", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_urn", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("modifier", sa.Text),
        sa.Column(
            "parameters", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
        ),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    # Whatever is still queued committed with its change: number it before the table goes.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT pg_advisory_xact_lock(1545267172);"
            " INSERT INTO events (seq, entity_type, entity_urn, category, operation, modifier, parameters,"
            " actor, time) SELECT nextval(pg_get_serial_sequence('events', 'seq')), entity_type, entity_urn,"
            " category, operation, modifier, parameters, actor, time"
            " FROM (SELECT * FROM event_queue"
            " ORDER BY min(id) OVER (PARTITION BY writer), id OFFSET 0) AS queued"
        )
    op.drop_table("event_queue")
