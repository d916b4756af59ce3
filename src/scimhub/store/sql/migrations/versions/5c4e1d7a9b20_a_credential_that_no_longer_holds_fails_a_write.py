"""A credential that no longer holds fails the write that carries its check

Revision ID: 5c4e1d7a9b20
Revises: b7d41f0c92ae
Create Date: 2026-12-07 11:50:00

ADR 0084. On PostgreSQL a write's credential, answered from memory, is checked by a statement of
the write's own commit round trip: ``scimhub_credential_holds(false)`` raises SQLSTATE ``SH401``,
which aborts the transaction: nothing of it is written. SQLite needs no such check
(ADR 0059).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c4e1d7a9b20"
down_revision: str | None = "b7d41f0c92ae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION scimhub_credential_holds(holds boolean) RETURNS boolean
        LANGUAGE plpgsql AS $$
        BEGIN
            IF holds IS NOT TRUE THEN
                RAISE EXCEPTION 'the credential no longer grants what it did' USING ERRCODE = 'SH401';
            END IF;
            RETURN true;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION scimhub_credential_holds(boolean)")
