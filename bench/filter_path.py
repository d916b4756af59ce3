"""What a `userName eq` filter costs the store, parse and search apart (ADR 0053).

    .venv/bin/python bench/filter_path.py [--calls 20000]

In one process, on an empty in-memory SQLite users table (so the database's own work is next to
nothing): ``parse_filter`` of ``userName eq "user<n>"``, a new name each call, then
``search_rows`` with it (the filter's clause, the page statement, SQLAlchemy's cache key, the
execution). Prints CPU µs per call of each. Run it with another commit's ``src`` on
``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query
from scimhub.query.schema import USER
from scimhub.store.sql import migrate
from scimhub.store.sql.searches import search_rows
from scimhub.store.sql.tables import users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    engine = create_engine("sqlite://", poolclass=StaticPool)
    migrate.upgrade(engine)
    texts = [f'userName eq "user{n}"' for n in range(calls)]
    with engine.connect() as connection:
        for text in texts[:1_000]:  # warm-up: plans, compiled SQL
            search_rows(connection, users, USER, Query(parse_filter(USER, text)))
        started = time.process_time()
        parsed = [parse_filter(USER, text) for text in texts]
        parse = (time.process_time() - started) / calls
        started = time.process_time()
        for filter in parsed:
            search_rows(connection, users, USER, Query(filter))
        search = (time.process_time() - started) / calls
    print(f"parse_filter {parse * 1e6:.1f} µs, search_rows {search * 1e6:.1f} µs CPU per call")


if __name__ == "__main__":
    main()
