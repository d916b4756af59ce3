"""What one SQLAlchemy Core statement costs, by how it is built (ADR 0015).

    .venv/bin/python bench/statements.py [--rounds 20000]

The same indexed lookup on an in-memory SQLite table of 1,000 rows, five ways,
in one process: a statement built anew each call (what scimhub did), a prebuilt
statement with a bound parameter (what it does now), ``text()``,
``exec_driver_sql`` and the raw DB-API cursor (the floor). Prints µs per call
and the ratio to the raw cursor.
"""

from __future__ import annotations

import argparse
import timeit

from sqlalchemy import Column, MetaData, String, Table, bindparam, create_engine, select, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    rounds = parser.parse_args().rounds
    engine = create_engine("sqlite://")
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("id", String, primary_key=True),
        Column("k", String, index=True),
        Column("d", String),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(), [{"id": str(i), "k": f"k{i}", "d": "x" * 100} for i in range(1000)]
        )
    connection = engine.connect()
    prebuilt = select(table).where(table.c.k == bindparam("k"))
    textual = text("SELECT id, k, d FROM t WHERE k = :k")
    raw = connection.connection.driver_connection

    def raw_cursor() -> None:
        cursor = raw.cursor()
        cursor.execute("SELECT id, k, d FROM t WHERE k = ?", ("k5",))
        cursor.fetchone()

    ways = {
        "built each call: select(t).where(t.c.k == 'k5')": lambda: connection.execute(
            select(table).where(table.c.k == "k5")
        ).first(),
        "prebuilt, bindparam('k')": lambda: connection.execute(prebuilt, {"k": "k5"}).first(),
        "text()": lambda: connection.execute(textual, {"k": "k5"}).first(),
        "exec_driver_sql": lambda: connection.exec_driver_sql(
            "SELECT id, k, d FROM t WHERE k = ?", ("k5",)
        ).first(),
        "raw DB-API cursor": raw_cursor,
    }
    floor = timeit.timeit(raw_cursor, number=rounds) / rounds
    print("| way | µs per call | ÷ raw cursor |\n| --- | ---: | ---: |")
    for name, call in ways.items():
        cost = timeit.timeit(call, number=rounds) / rounds
        print(f"| {name} | {cost * 1e6:.1f} | {cost / floor:.1f} |")


if __name__ == "__main__":
    main()
