"""A round trip through ``libpq.run`` (ADR 0074, 0089), seen on the wire between it and PostgreSQL.

A relay between psycopg and the server records each read of what the client sent: every statement
of a round trip must reach the server in one write, and a round trip larger than the sockets'
buffers must neither stall nor lose a statement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from scimhub.store.sql import libpq
from tests.relay import Relay


@pytest.fixture
def relayed(fresh_postgres: str) -> Iterator[tuple[psycopg.Connection[object], Relay]]:
    """A psycopg connection to a new database through a ``Relay``."""
    url = make_url(fresh_postgres)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    driver = psycopg.connect(
        host="127.0.0.1", port=relay.port, user=url.username, dbname=url.database, autocommit=True
    )
    yield driver, relay
    driver.close()
    relay.close()


def _statement(sql: str, values: int) -> libpq.Statement:
    return libpq.Statement(sql.encode(), [libpq.AUTO] * values, tuple)


def test_every_statement_of_a_round_trip_reaches_the_server_in_one_write(
    relayed: tuple[psycopg.Connection[object], Relay],
) -> None:
    """Five statements and the Sync go out together: each write would be a wake-up of the backend."""
    driver, relay = relayed
    add = _statement("SELECT $1::int + 1", 1)
    name = _statement("SELECT $1::text || '!'", 1)
    round_trip = [(add, [[1]]), (name, [["a"]]), (add, [[2], [3]]), (name, [["b"]])]
    info: dict[object, object] = {}
    libpq.run(driver, info, round_trip)  # the first prepares: its Parse messages go out too
    relay.sent.clear()
    for _ in range(20):
        assert libpq.run(driver, info, round_trip) == [[(2,)], [("a!",)], [(4,)], [("b!",)]]
    assert len(relay.sent) == 20  # one read per round trip: it was one write


def test_a_round_trip_larger_than_the_sockets_buffers_neither_stalls_nor_loses_a_statement(
    relayed: tuple[psycopg.Connection[object], Relay],
) -> None:
    """Twenty megabytes each way: the server answers while the client still sends, and stops reading
    when its answers are not read. The client reads them as it sends (libpq also does, in part)."""
    driver, _ = relayed
    echo = _statement("SELECT $1::text", 1)
    values = [[f"{n:06d}" + "x" * 20_000] for n in range(1_000)]
    answered: list[list[list[object]]] = []
    worker = threading.Thread(target=lambda: answered.append(libpq.run(driver, {}, [(echo, values)])))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the round trip stalled"
    assert answered == [[[(values[-1][0],)]]]  # a statement run several times keeps its last rows
    assert driver.execute("SELECT 1").fetchone() == (1,)  # the connection is left between round trips
