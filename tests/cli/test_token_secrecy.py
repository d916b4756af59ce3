"""The database holds no token in clear, and no command shows one again after `token create`.

Every column of every table (found by SQLAlchemy inspection, so a table added
later is scanned too) is read back as text and searched for the token, for its
signature part, and for the signature's raw bytes in hex.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from sqlalchemy import MetaData, inspect, select

from scimhub.directory.tokens import TokenKeys
from scimhub.domain.tokens import hash_token
from scimhub.wiring import Services
from tests.cli.conftest import Cli


def secret_forms(token: str) -> list[str]:
    """Return the token, its signature part and the signature as hex: none may be stored."""
    signature = token.rsplit(".", 1)[1]
    return [token, signature, base64.urlsafe_b64decode(signature + "==").hex()]


def stored_values(hub: Services) -> Iterator[tuple[str, str, str]]:
    """Yield (table, column, value as text) for every value in every table of the database."""
    metadata = MetaData()
    with hub.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        metadata.reflect(connection, only=names)
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    yield table.name, column, text


def test_the_database_holds_no_token_in_clear(cli: Cli, hub: Services) -> None:
    """After issuing and using tokens, no column of any table contains a token or its signature."""
    tokens = [
        cli("token", "create", "--name", name).stdout.splitlines()[-1] for name in ("one", "two", "revoked")
    ]
    for token in tokens:
        hub.tokens.authenticate(token)  # records last use: a write that must not store the token either
    revoked = next(item["id"] for item in cli.json("token", "list") if item["name"] == "revoked")
    cli("token", "revoke", revoked)
    values = list(stored_values(hub))
    tables = {table for table, _, _ in values}
    assert {"users", "tokens", "events", "server_secrets", "alembic_version"} <= tables
    for token in tokens:
        for form in secret_forms(token):
            leaks = [(table, column) for table, column, text in values if form in text]
            assert leaks == [], f"a token's {form[:8]}… is stored in {leaks}"
    # The scan does read the tokens table: the salted SHA-256 of each live token is there.
    hashes = {text for table, _, text in values if table == "tokens"}
    salt = TokenKeys.load(hub.store, None, None).salt  # the stored salt: the suite configures none
    assert [hash_token(token, salt) in hashes for token in tokens] == [True, True, False]


def test_token_list_never_shows_a_token(cli: Cli) -> None:
    """`token list`, as a table and as JSON, shows ids and names but neither the token nor its signature."""
    token = cli("token", "create", "--name", "listed").stdout.splitlines()[-1]
    listed = cli("token", "list").stdout + cli("token", "list", "--json").stdout
    assert "listed" in listed
    assert not [form for form in secret_forms(token) if form in listed]
