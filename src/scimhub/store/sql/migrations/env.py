"""Alembic environment: migrations run inside the package, on the caller's connection."""

from alembic import context
from sqlalchemy import text

from scimhub.store.sql.tables import metadata

config = context.config
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite can only alter tables by copying them
    transaction_per_migration=True,
    compare_type=True,
)
if connection.dialect.name == "postgresql":
    # Several processes may start at once; one migrates, the others wait and find nothing to do. A
    # migration may wait for that lock, and for its tables, longer than a request may (ADR 0069).
    connection.execute(text("SET lock_timeout = 0"))
    connection.execute(text("SELECT pg_advisory_lock(hashtext('scimhub-alembic'))"))
    connection.commit()
try:
    context.run_migrations()
finally:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_unlock(hashtext('scimhub-alembic'))"))
        connection.execute(text("RESET lock_timeout"))
        connection.commit()
