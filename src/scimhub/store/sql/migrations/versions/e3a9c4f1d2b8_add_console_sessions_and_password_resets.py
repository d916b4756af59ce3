"""Add console sessions and password-reset links

Revision ID: e3a9c4f1d2b8
Revises: e4a7c2b9d061
Create Date: 2026-12-04 08:30:00

The browser console (issue 13) keeps its sessions in the database (ADR 0030), so
signing out, a new password, a suspension or a deletion ends them on every
process; and its one-time password-reset links (ADR 0033). Both hold only the
sha256 of their secret, and die with their user. ``users.active`` gets an index
(the overview counts the suspended users of a million without reading them), and
``users.display_name_key``, the folded displayName under an index, lets the
console find users by a prefix of their displayName as it does by userName.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a9c4f1d2b8"
down_revision: str | None = "e4a7c2b9d061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_BATCH = 10_000


def _fold(text: str) -> str:
    """Return the key of a name; a copy of ``scimhub.domain.text.fold`` as of this revision."""
    return unicodedata.normalize("NFC", text).lower()


def upgrade() -> None:
    op.create_index(op.f("ix_users_active"), "users", ["active"], unique=False)
    key_type = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name_key", key_type, nullable=True))
    connection = op.get_bind()
    after = ""
    while True:  # in batches by id: a million users never sit in memory at once
        rows = connection.execute(
            sa.text(
                "SELECT id, display_name FROM users WHERE id > :after AND display_name IS NOT NULL"
                " ORDER BY id LIMIT :batch"
            ),
            {"after": after, "batch": _BATCH},
        ).all()
        if not rows:
            break
        keys = [{"id": row.id, "key": _fold(row.display_name)} for row in rows]
        connection.execute(sa.text("UPDATE users SET display_name_key = :key WHERE id = :id"), keys)
        after = rows[-1].id
    op.create_index(op.f("ix_users_display_name_key"), "users", ["display_name_key"], unique=False)
    op.create_table(
        "console_sessions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("password_mark", sa.String(length=64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_console_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"], unique=False)
    op.create_index(op.f("ix_console_sessions_last_seen"), "console_sessions", ["last_seen"], unique=False)
    op.create_table(
        "password_resets",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_password_resets")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index(op.f("ix_console_sessions_last_seen"), table_name="console_sessions")
    op.drop_index(op.f("ix_console_sessions_user_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_users_display_name_key"), table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("display_name_key")
    op.drop_index(op.f("ix_users_active"), table_name="users")
