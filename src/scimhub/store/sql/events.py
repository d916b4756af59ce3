"""The change outbox on SQL: one row per event, inserted in the writing transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert

from scimhub.domain.events import ChangeEvent
from scimhub.store.sql.tables import events


class SqlEventLog:
    """Appends change events to ``events`` (ADR 0006: written with the change they record)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, batch: Iterable[ChangeEvent]) -> None:
        """Append events to be committed with the current transaction."""
        rows = [
            {
                "entity_type": e.entity_type,
                "entity_urn": e.entity_urn,
                "category": e.category.value,
                "operation": e.operation.value,
                "modifier": e.modifier,
                "parameters": e.parameters or None,
                "actor": e.actor,
                "time": e.time,
            }
            for e in batch
        ]
        if rows:
            self._connection.execute(insert(events), rows)
