"""Sort names by code point from the index (PostgreSQL)

Revision ID: 5e0c4d2a9b17
Revises: 45633be88b4b
Create Date: 2026-11-29 01:35:00

``sortBy=userName`` and ``sortBy=displayName`` order by code point (``COLLATE
"C"``, as SQLite's BINARY does). The ``*_key`` columns carried the database's
default collation, so PostgreSQL could not read their unique index in that order
and sorted the whole table for every page (a million users: a sort spilling
650 MB). The columns now carry the "C" collation themselves; equality, which is
all the unique index otherwise serves, is the same under any deterministic
collation. Their unique index also INCLUDEs the id, so that a deep page finds
its ids by an index-only scan and reads only its own rows (ADR 0017). SQLite
is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e0c4d2a9b17"
down_revision: str | None = "45633be88b4b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (("users", "user_name_key"), ("groups", "display_name_key"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _KEYS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "C"')
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT uq_{table}_{column},"
                f" ADD CONSTRAINT uq_{table}_{column} UNIQUE ({column}) INCLUDE (id)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _KEYS:
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT uq_{table}_{column},"
                f" ADD CONSTRAINT uq_{table}_{column} UNIQUE ({column})"
            )
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "default"')
