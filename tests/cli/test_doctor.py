"""``scimhub doctor``: one finding per check, with what to fix; exit 1 when any fails. Both engines."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from scimhub.cli.app import app
from scimhub.cli.doctor import _case_folding, diagnose
from scimhub.domain.text import lower_each
from scimhub.settings import Settings
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from tests.cli.conftest import Cli
from tests.databases import postgres_database
from tests.datahub.gms import StandInGms

KEY, SALT = "k" * 48, "s" * 24


def doctor(database_url: str, **environ: str | None) -> tuple[Result, dict[str, Any]]:
    """Run ``scimhub doctor --json`` on ``database_url``; return the result and the findings by name."""
    env = {"SCIMHUB_DATABASE_URL": database_url, "SCIMHUB_ADMIN_PASSWORD": None, **environ}
    result = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    report = json.loads(result.stdout)
    assert report["ok"] == (result.exit_code == 0), result.stdout
    return result, {check["name"]: check for check in report["checks"]}


def migrated(database_url: str, target: str = "head") -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, target)
    finally:
        engine.dispose()


def test_a_migrated_database_passes_every_check(database_url: str) -> None:
    """On a migrated database the settings, database, migrations and clock are ok; exit 0."""
    migrated(database_url)
    result, found = doctor(database_url)
    assert result.exit_code == 0
    assert [
        found[name]["status"]
        for name in ("settings", "public URL", "database", "migrations", "lower()", "clock")
    ] == ["ok"] * 6
    assert found["migrations"]["detail"].endswith("no drift")
    assert "datahub" not in found


def test_every_check_prints_one_line_with_its_status_and_fix(cli: Cli) -> None:
    """Without --json each finding is one line: status, check, what was found, and -> what to do."""
    cli("db", "upgrade")
    lines = cli("doctor").stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "settings"],
        ["ok", "public"],
        ["ok", "database"],
        ["ok", "migrations"],
        ["ok", "lower()"],
        ["warn", "secrets"],
        ["ok", "clock"],
    ]
    assert lines[5].startswith("warn  secrets     the token signing key and salt are to be generated")
    assert lines[5].endswith(
        "-> in production set SCIMHUB_ENV=production with SCIMHUB_TOKEN_SIGNING_KEY_FILE"
        " and SCIMHUB_TOKEN_SALT_FILE (see docs/security.md)"
    )


def test_an_unreachable_database_fails_and_exits_1(database_url: str, tmp_path: Path) -> None:
    """A PostgreSQL database that does not exist, a SQLite file in a missing directory: fail, exit 1."""
    if database_url.startswith("sqlite"):
        broken = f"sqlite:///{tmp_path}/missing-directory/scimhub.db"
        expected = "does not exist"
    else:
        broken = make_url(database_url).set(database="scimhub_no_such_database").render_as_string(False)
        expected = 'database "scimhub_no_such_database" does not exist'
    result, found = doctor(broken)
    assert result.exit_code == 1
    assert found["database"]["status"] == "fail"
    assert expected in found["database"]["detail"]
    assert found["database"]["fix"]
    assert "migrations" not in found  # nothing more is asked of a database that does not answer


def test_an_unwritable_sqlite_directory_fails(tmp_path: Path) -> None:
    """SQLite writes its -wal and -shm files beside the database: a read-only directory fails."""
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        if os.geteuid() == 0:
            pytest.skip("root may write to a read-only directory: run as another user to test this")
        result, found = doctor(f"sqlite:///{directory}/scimhub.db")
    finally:
        directory.chmod(0o700)
    assert result.exit_code == 1 and "is not writable" in found["database"]["detail"]


def test_a_stale_migration_fails_until_db_upgrade(empty_database_url: str) -> None:
    """A schema behind the shipped head fails with the number of migrations and the command to run."""
    migrated(empty_database_url, "1f5107d7781a")
    result, found = doctor(empty_database_url)
    assert result.exit_code == 1
    assert found["migrations"]["status"] == "fail"
    shipped = Config()
    shipped.set_main_option("script_location", "scimhub.store.sql:migrations")
    behind = len(
        list(ScriptDirectory.from_config(shipped).iterate_revisions("heads", "1f5107d7781a"))
    )  # above it
    assert found["migrations"]["detail"].startswith(f"at 1f5107d7781a, {behind} migration(s) behind head")
    assert "scimhub db upgrade" in found["migrations"]["fix"]
    Cli(empty_database_url)("db", "upgrade")
    assert doctor(empty_database_url)[1]["migrations"]["status"] == "ok"


def test_a_database_migrated_by_a_newer_scimhub_fails(database_url: str) -> None:
    """A revision this code does not ship means a newer scimhub migrated the database."""
    migrated(database_url)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    engine.dispose()
    result, found = doctor(database_url)
    assert result.exit_code == 1
    assert "ffffffffffff, which this scimhub does not ship" in found["migrations"]["detail"]


def test_production_without_its_keys_fails_the_secrets_check(database_url: str, tmp_path: Path) -> None:
    """SCIMHUB_ENV=production without the key fails; with key and salt from files it is ok."""
    migrated(database_url)
    result, found = doctor(database_url, SCIMHUB_ENV="production")
    assert result.exit_code == 1 and found["secrets"]["status"] == "fail"
    assert "SCIMHUB_TOKEN_SIGNING_KEY_FILE" in found["secrets"]["fix"]
    (tmp_path / "key").write_text(KEY + "\n")
    (tmp_path / "salt").write_text(SALT + "\n")
    files = {
        "SCIMHUB_TOKEN_SIGNING_KEY_FILE": str(tmp_path / "key"),
        "SCIMHUB_TOKEN_SALT_FILE": str(tmp_path / "salt"),
    }
    result, found = doctor(database_url, SCIMHUB_ENV="production", **files)
    assert found["secrets"]["status"] == "ok", found["secrets"]


def test_keys_generated_in_development_are_a_warning(cli: Cli) -> None:
    """Keys generated into the database warn in development, and still warn once production is on."""
    cli("token", "create", "--name", "ci")  # starts the database: generates the key and salt
    _, found = doctor(cli.database_url)
    assert found["secrets"]["status"] == "warn"
    assert "kept in the database" in found["secrets"]["detail"]
    _, found = doctor(
        cli.database_url, SCIMHUB_ENV="production", SCIMHUB_TOKEN_SIGNING_KEY=KEY, SCIMHUB_TOKEN_SALT=SALT
    )
    assert found["secrets"]["status"] == "warn"
    assert "server_secrets" in found["secrets"]["fix"]


def test_a_clock_out_of_step_warns(cli: Cli) -> None:
    """A clock a minute behind: PostgreSQL's now() says so; on SQLite the newest change is in its future."""
    cli("token", "create", "--name", "ci")  # writes changes (the admin's creation) at the real time
    settings = Settings(database_url=cli.database_url)
    found = {f.name: f for f in diagnose(lambda: settings, clock=lambda: time.time() - 60)}
    assert found["clock"].status == "warn"
    assert "NTP" in (found["clock"].fix or "")
    assert any(
        words in found["clock"].detail for words in ("behind the database server's", "s ahead of this")
    )
    assert {f.name: f for f in diagnose(lambda: settings)}["clock"].status == "ok"


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("https://scim.example.com/base", "ok", "https://scim.example.com/base"),
        ("http://127.0.0.1:8080", "ok", "http://127.0.0.1:8080"),
        ("http://scim.example.com", "warn", "plain HTTP"),
        ("scim.example.com", "fail", "not an absolute http(s) URL"),
        ("https://user:pw@scim.example.com", "fail", "credentials"),
        ("https://scim.example.com/?a=b", "fail", "query"),
    ],
)
def test_the_public_base_url_is_checked(tmp_path: Path, url: str, status: str, words: str) -> None:
    """SCIMHUB_PUBLIC_BASE_URL must be absolute http(s) without query or credentials; plain HTTP warns."""
    result, found = doctor(f"sqlite:///{tmp_path}/scimhub.db", SCIMHUB_PUBLIC_BASE_URL=url)
    assert found["public URL"]["status"] == status
    assert words in found["public URL"]["detail"]
    assert result.exit_code == (1 if status == "fail" else 0)


def test_a_setting_that_does_not_parse_fails_alone(tmp_path: Path) -> None:
    """A setting of the wrong type is the only finding: nothing else can be checked without settings."""
    result, found = doctor(f"sqlite:///{tmp_path}/scimhub.db", SCIMHUB_PORT="eighty")
    assert result.exit_code == 1
    assert list(found) == ["settings"]
    assert "SCIMHUB_PORT must be a whole number" in found["settings"]["detail"]


def test_datahub_is_checked_when_configured(cli: Cli) -> None:
    """With SCIMHUB_DATAHUB_GMS_URL set, GMS must answer and take the token; a refused token fails."""
    gms = StandInGms()
    try:
        _, found = doctor(
            cli.database_url, SCIMHUB_DATAHUB_GMS_URL=gms.url, SCIMHUB_DATAHUB_TOKEN="gms-token"
        )
        assert found["datahub"]["status"] == "ok"
        assert (
            "v1.7-stand-in" in found["datahub"]["detail"]
            and "urn:li:corpuser:datahub" in found["datahub"]["detail"]
        )
        result, found = doctor(
            cli.database_url, SCIMHUB_DATAHUB_GMS_URL=gms.url, SCIMHUB_DATAHUB_TOKEN="wrong"
        )
        assert result.exit_code == 1
        assert "refused the token (401)" in found["datahub"]["detail"]
    finally:
        gms.close()
    result, found = doctor(cli.database_url, SCIMHUB_DATAHUB_GMS_URL=gms.url)
    assert found["datahub"]["status"] == "fail" and "unreachable" in found["datahub"]["detail"]


def test_a_database_whose_lower_folds_otherwise_warns(postgres_admin_url: str) -> None:
    """A PostgreSQL database of ctype C lowers ASCII only: filters on other text would not match."""
    with postgres_database(postgres_admin_url, locale="C") as url:
        migrated(url)
        result, found = doctor(url)
    assert result.exit_code == 0
    assert found["lower()"]["status"] == "warn"
    assert "'οδοσ istanbul ǆemal école 𐐨 it'" in found["lower()"]["detail"]
    assert "LC_CTYPE 'C.UTF-8'" in found["lower()"]["fix"]


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_a_database_not_in_utf8_fails_the_folding_check_alone(postgres_admin_url: str, encoding: str) -> None:
    """Such a database cannot store every text: the check fails, naming the encoding; the rest run."""
    with postgres_database(postgres_admin_url, locale="C", encoding=encoding) as url:
        result, found = doctor(url)
    assert result.exit_code == 1
    assert found["database"]["status"] == "ok"
    assert found["lower()"]["status"] == "fail"
    assert f"encoding is {encoding}" in found["lower()"]["detail"]
    assert found["clock"]["status"] == "ok"


def test_a_turkish_lower_warns() -> None:
    """A Turkish ctype lowers I to a dotless ı: the sample's plain I tells it apart (session 41).

    No Turkish locale is installed here; a SQLite engine whose lower() folds as one does stands in.
    """
    engine = create_engine("sqlite://")
    event.listen(
        engine,
        "connect",
        lambda connection, _: connection.create_function(
            "lower", 1, lambda text: lower_each(text.replace("I", "ı")), deterministic=True
        ),
    )
    try:
        finding = _case_folding(engine)
    finally:
        engine.dispose()
    assert finding.status == "warn"
    assert " ıt'" in finding.detail
