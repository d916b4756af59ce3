"""A PostgreSQL that stops answering fails the server's waits on it, not holds them (ADR 0090).

Between the store and a real PostgreSQL, a relay (``tests/relay.py``) holds back what the server
sends, as a server stopped or stuck would: its connections stay open and their TCP peer answers,
so nothing in the network says anything is wrong. The server's engine (``bound_answers``) then
gives up after its bound, drops the connection and answers 503; once the server speaks again, the
next request is served on a new connection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, make_url, text

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserEdit, Users
from scimhub.errors import ServiceUnavailable
from scimhub.store.sql.engine import bound_answers, make_engine
from scimhub.store.sql.store import SqlStore
from tests.databases import migrated_engine
from tests.relay import Relay

BOUND = 0.5


@pytest.fixture
def relayed(fresh_postgres: str) -> Iterator[tuple[Engine, Relay]]:
    """The server's engine on a migrated database, through a relay, its answers bounded at ``BOUND``."""
    with migrated_engine(fresh_postgres):
        pass
    url = make_url(fresh_postgres)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    engine = make_engine(url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False))
    bound_answers(engine, BOUND)
    yield engine, relay
    relay.speak()
    engine.dispose()
    relay.close()


def _names(store: SqlStore) -> set[str]:
    with store.read(one_statement=True) as tx:
        return set(tx.connection.execute(text("SELECT user_name FROM users")).scalars())


@pytest.mark.parametrize("interleave", [True, False], ids=["in a greenlet", "at once"])
def test_a_silent_server_fails_the_request_within_the_bound_and_the_next_is_served(
    relayed: tuple[Engine, Relay], interleave: bool
) -> None:
    """In a greenlet (one process) the loop serves on meanwhile; at once (several processes) the wait
    blocks the loop, so the bound is all that ends it."""
    engine, relay = relayed
    store = SqlStore(engine, interleave=interleave)
    directory = Users(store, lambda: 1_000_000)
    ticks = [0]

    async def tick() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.01)

    async def main() -> float:
        ticker = asyncio.ensure_future(tick())
        await store.cooperate(directory.create, SYSTEM, UserEdit({"userName": "before"}))
        relay.silent.set()
        started, ticked = time.monotonic(), ticks[0]
        rescue = threading.Timer(BOUND + 10, relay.speak)  # without the bound: a failure, not a hang
        rescue.start()
        with pytest.raises(ServiceUnavailable, match="connection lost"):
            await store.cooperate(directory.create, SYSTEM, UserEdit({"userName": "unanswered"}))
        elapsed = time.monotonic() - started
        rescue.cancel()
        if interleave:
            assert ticks[0] - ticked >= 10  # the loop ran other work while the request waited
        relay.speak()
        await store.cooperate(directory.create, SYSTEM, UserEdit({"userName": "after"}))
        ticker.cancel()
        return elapsed

    elapsed = asyncio.run(main())
    assert BOUND <= elapsed < BOUND + 5
    # The create sent before the silence may have been committed by the server, which only stopped
    # answering: either way it was answered 503, and the work after the silence was served.
    assert {"before", "after"} <= _names(store) <= {"before", "unanswered", "after"}
    store.close()


def test_a_server_answering_within_the_bound_is_waited_for(relayed: tuple[Engine, Relay]) -> None:
    """The bound is on silence, not on work: a statement answered in time is never cut."""
    engine, _ = relayed
    store = SqlStore(engine)

    def sleep_on_the_server(seconds: float) -> int:
        with store.read(one_statement=True) as tx:
            return int(tx.connection.execute(text("SELECT 1 FROM pg_sleep(:s)"), {"s": seconds}).scalar_one())

    async def main() -> int:
        return await store.cooperate(sleep_on_the_server, BOUND * 0.6)

    assert asyncio.run(main()) == 1
    assert sleep_on_the_server(BOUND * 0.6) == 1  # and in a core thread's blocking wait
    store.close()


def test_an_engine_without_the_bound_waits_as_long_as_it_takes(fresh_postgres: str) -> None:
    """Tools and migrations (``make_engine`` alone) keep psycopg's waits: a statement may run for minutes."""
    tool, server = make_engine(fresh_postgres), make_engine(fresh_postgres)
    try:
        bound_answers(server, BOUND)
        with tool.connect() as connection, server.connect() as other:
            assert connection.connection.driver_connection.answer_within is None  # type: ignore[union-attr]
            assert other.connection.driver_connection.answer_within == BOUND  # type: ignore[union-attr]
            assert connection.execute(text("SELECT 1 FROM pg_sleep(:s)"), {"s": BOUND * 2}).scalar_one() == 1
    finally:
        tool.dispose()
        server.dispose()
