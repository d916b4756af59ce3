from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.store import SqlStore
from tests.store.contract_store import StoreContract, make_user


class TestSqlStore(StoreContract):
    """The store contract on SQLite and on PostgreSQL, schema built by the migrations."""

    @pytest.fixture
    def store(self, database_url: str) -> Iterator[SqlStore]:
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        store = SqlStore(engine)
        yield store
        store.close()  # its held connections go back before the engine goes
        engine.dispose()


def test_the_migrations_match_the_tables(database_url: str) -> None:
    """`upgrade head` yields exactly the schema the code declares (no drift)."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.check(engine)
    engine.dispose()


def test_tokens_survive_the_migration_that_frees_their_owner(database_url: str) -> None:
    """Upgrading from 7c6b155e66e8 keeps existing tokens; then deleting an owner leaves its tokens, ownerless.

    The rows are written in SQL as that revision stores them, so the test keeps
    meaning the same whatever the store's code writes later.
    """
    engine = make_engine(database_url)
    migrate.upgrade(engine, "7c6b155e66e8")
    user = (
        "INSERT INTO users (id, user_name, user_name_key, urn, active, doc, version, created, last_modified)"
        " VALUES (:id, :name, :name, :urn, true, '{}', 1, 1, 1)"
    )
    token = (
        "INSERT INTO tokens (id, hash, name, actor_id, owner_id, created)"
        " VALUES (:id, :hash, 'a token', :actor_id, :owner_id, 1)"
    )
    with engine.begin() as connection:
        connection.execute(
            text(user),
            [{"id": id, "name": id, "urn": f"urn:li:corpuser:{id}"} for id in ("admin", "entra")],
        )
        connection.execute(
            text(token),
            [
                {"id": "for-entra", "hash": "h1", "actor_id": "entra", "owner_id": "admin"},
                {"id": "own", "hash": "h2", "actor_id": "admin", "owner_id": "admin"},
            ],
        )

    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE id = 'admin'"))
        left = connection.execute(text("SELECT id, actor_id, owner_id FROM tokens")).all()
    engine.dispose()

    assert [tuple(row) for row in left] == [("for-entra", "entra", None)]


def test_the_nfc_migration_folds_every_key_and_keeps_one_row_per_key(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Upgrading from 5e0c4d2a9b17 gives each name and email the NFC lower-cased key (ADR 0021).

    Of two users whose names differ only in Unicode form (the duplicates the old keys
    let in), the one already holding the folded key keeps it; the other keeps its old
    key and is logged. The rows are written in SQL as that revision stores them.
    """
    nfd, nfc = unicodedata.normalize("NFD", "José"), "José"
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "5e0c4d2a9b17")
    user = (
        "INSERT INTO users (id, user_name, user_name_key, urn, active, doc, version, created, last_modified)"
        " VALUES (:id, :name, :key, :urn, true, '{}', 1, :created, 1)"
    )
    with engine.begin() as connection:
        connection.execute(
            text(user),
            [
                {"id": "old-nfd", "name": nfd, "key": nfd.lower(), "urn": "urn:a", "created": 1},
                {"id": "new-nfc", "name": nfc.upper(), "key": nfc.lower(), "urn": "urn:b", "created": 2},
                {
                    "id": "zoe",
                    "name": unicodedata.normalize("NFD", "Zoë"),
                    "key": "zoe\u0308",
                    "urn": "urn:c",
                    "created": 3,
                },
            ],
        )
        connection.execute(
            text(
                "INSERT INTO groups (id, display_name, display_name_key, doc, version, created,"
                " last_modified) VALUES ('g', :name, :key, '{}', 1, 1, 1)"
            ),
            {"name": unicodedata.normalize("NFD", "Équipe"), "key": unicodedata.normalize("NFD", "équipe")},
        )
        connection.execute(
            text("INSERT INTO user_emails (user_id, position, value_key) VALUES ('zoe', 0, :key)"),
            {"key": unicodedata.normalize("NFD", "zoë@x.org")},
        )

    with caplog.at_level("WARNING", logger="scimhub.migrations"):
        migrate.upgrade(engine)
    with engine.begin() as connection:
        users = dict(connection.execute(text("SELECT id, user_name_key FROM users")).all())
        group_key = connection.execute(text("SELECT display_name_key FROM groups")).scalar_one()
        email_key = connection.execute(text("SELECT value_key FROM user_emails")).scalar_one()
    engine.dispose()

    assert users == {"new-nfc": "josé", "old-nfd": nfd.lower(), "zoe": "zoë"}
    assert group_key == "équipe"
    assert email_key == "zoë@x.org"
    assert "old-nfd" in caplog.text and "new-nfc" in caplog.text


def test_a_name_is_found_in_any_unicode_form_and_case(database_url: str) -> None:
    """The store's name lookup folds NFC and case: the NFD spelling finds the NFC name (ADR 0021)."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    with store.transaction() as tx:
        tx.users.insert(make_user("Zoë.Müller@contoso.com"))
    with store.transaction() as tx:
        found = tx.users.get_by_name(unicodedata.normalize("NFD", "ZOË.MÜLLER@CONTOSO.COM"))
    store.close()
    engine.dispose()
    assert found is not None and found.user_name == "Zoë.Müller@contoso.com"
