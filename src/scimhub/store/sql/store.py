"""``SqlStore``: the store contract on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from scimhub.store.sql.directory import SqlGroupRows, SqlMemberRows, SqlUserRows
from scimhub.store.sql.events import SqlEventLog
from scimhub.store.sql.roles import SqlRoleRows
from scimhub.store.sql.tokens import SqlSecretRows, SqlTokenRows


class SqlTransaction:
    """Every kind of row, bound to one connection inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.users = SqlUserRows(connection)
        self.groups = SqlGroupRows(connection)
        self.members = SqlMemberRows(connection)
        self.roles = SqlRoleRows(connection)
        self.tokens = SqlTokenRows(connection)
        self.secrets = SqlSecretRows(connection)
        self.events = SqlEventLog(connection)


class SqlStore:
    """A SQLite or PostgreSQL database holding scimhub's tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit or roll back whole."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            yield SqlTransaction(connection)

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        """Open a read transaction: one snapshot for every query in it."""
        with self.engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            yield SqlTransaction(connection)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
