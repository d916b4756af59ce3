"""Fold name and email keys to NFC (ADR 0021)

Revision ID: b7d3e5a1c920
Revises: 5e0c4d2a9b17
Create Date: 2026-12-04 05:56:00

The ``*_key`` columns held ``str.lower()`` of what was written, so the NFC and the
NFD spellings of one name were two keys and two users. They now hold ``fold()``:
the NFC form, lower-cased. This recomputes every key written before.

The values themselves (``user_name``, ``display_name``, ``doc``) are left as they
were written: rewriting them would change what a GET returns without a version or
an event. New writes store names in NFC.

Two rows whose names fold to one key (the duplicates the old keys let in) cannot
both have it: the row that already holds it keeps it, else the oldest row gets it;
the others keep their old key and are logged by id, for an administrator to merge
or rename. Changed keys first move to a temporary value unique per row, so no
update meets a key another row is about to give up.
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d3e5a1c920"
down_revision: str | None = "5e0c4d2a9b17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("scimhub.migrations")

_NAMES = (("users", "user_name", "user_name_key"), ("groups", "display_name", "display_name_key"))


def _fold(text: str) -> str:
    """Return the key of a name; a copy of ``scimhub.domain.text.fold`` as of this revision."""
    return unicodedata.normalize("NFC", text).lower()


def upgrade() -> None:
    connection = op.get_bind()
    for table, column, key in _NAMES:
        _refold_names(connection, table, column, key)
    rows = connection.execute(sa.text("SELECT user_id, position, value_key, type_key FROM user_emails")).all()
    changed = [
        {
            "user_id": row.user_id,
            "position": row.position,
            "value_key": _fold(row.value_key),
            "type_key": None if row.type_key is None else _fold(row.type_key),
        }
        for row in rows
        if _fold(row.value_key) != row.value_key
        or (row.type_key is not None and _fold(row.type_key) != row.type_key)
    ]
    if changed:
        connection.execute(
            sa.text(
                "UPDATE user_emails SET value_key = :value_key, type_key = :type_key"
                " WHERE user_id = :user_id AND position = :position"
            ),
            changed,
        )


def _refold_names(connection: sa.Connection, table: str, column: str, key: str) -> None:
    """Give each row of ``table`` the folded key of its name, one row per key (the module docstring)."""
    rows = connection.execute(
        sa.text(f"SELECT id, {column} AS name, {key} AS key, created FROM {table}")
    ).all()
    by_key: dict[str, list[sa.Row]] = {}
    for row in rows:
        by_key.setdefault(_fold(row.name), []).append(row)
    moves: list[dict[str, str]] = []
    for folded, claimants in by_key.items():
        keeper = next((r for r in claimants if r.key == folded), None)
        keeper = keeper or min(claimants, key=lambda r: (r.created, r.id))
        if keeper.key != folded:
            moves.append({"id": keeper.id, "key": folded})
        others = [r.id for r in claimants if r is not keeper]
        if others:
            log.warning(
                "%s %s spell the %s of %s in another Unicode form and keep their old keys: merge or rename",
                table,
                ", ".join(others),
                column,
                keeper.id,
            )
    if not moves:
        return
    update = sa.text(f"UPDATE {table} SET {key} = :key WHERE id = :id")
    connection.execute(update, [{"id": m["id"], "key": f"\x01{m['id']}"} for m in moves])
    connection.execute(update, moves)


def downgrade() -> None:
    connection = op.get_bind()
    for table, column, key in _NAMES:
        connection.execute(sa.text(f"UPDATE {table} SET {key} = lower({column})"))
