"""``scimhub doctor [--json]``: check what a deployment needs, one line each, with what to fix.

Checks, in order: the settings parse; the public base URL; the database is reachable (a SQLite
file's directory writable); its schema is at the shipped head with no drift; its ``lower()``
folds case as scimhub does (PostgreSQL's depends on the database's locale); where the token
signing key and salt come from (ADR 0027); this machine's clock against the database server's
and against the newest change written; and, when ``SCIMHUB_DATAHUB_GMS_URL`` is set, that GMS
answers and takes the token, and where the push stands. Each is ``ok``, ``warn`` or ``fail``;
the command exits 1 when any fails. It only reads: it migrates nothing and generates no key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from sqlalchemy import ColumnElement, Connection, Engine, Table, func, inspect, select, text
from sqlalchemy.engine import make_url

from scimhub.cli.options import DatabaseUrl, Json, settings
from scimhub.cli.output import print_json
from scimhub.directory.tokens import production_key_problems
from scimhub.domain.text import lower_each
from scimhub.settings import Settings
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import make_engine
from scimhub.store.sql.tables import events, server_secrets

CLOCK_TOLERANCE_SECONDS = 2.0
"""Skew beyond which the clock check warns: token expiry, the push's 30 s lease and event times are
judged by each process's own clock, so processes must agree to within a little of that."""
CONNECT_TIMEOUT_SECONDS = 5
_UPGRADE = "run `scimhub db upgrade` (`scimhub serve` applies migrations when it starts)"
_SECURITY = "see docs/security.md"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``ok``, ``warn`` or ``fail``, what was found, and what to do about it."""

    name: str
    status: str
    detail: str
    fix: str | None = None


def _ok(name: str, detail: str) -> Finding:
    return Finding(name, "ok", detail)


def _warn(name: str, detail: str, fix: str) -> Finding:
    return Finding(name, "warn", detail, fix)


def _fail(name: str, detail: str, fix: str) -> Finding:
    return Finding(name, "fail", detail, fix)


def diagnose(load: Callable[[], Settings], clock: Callable[[], float] = time.time) -> list[Finding]:
    """Run every check against the settings ``load`` returns; ``clock`` is this machine's, in seconds."""
    try:
        config = load()
    except ValueError as error:
        return [_fail("settings", str(error), "correct or unset the variable named")]
    findings = [
        _ok("settings", f"SCIMHUB_ENV={config.env}, database {_shown(config.database_url)}"),
        _public_url(config),
    ]
    with _engine(config.database_url, findings) as engine:
        if engine is not None:
            findings += [
                _migrations(engine),
                _case_folding(engine),
                _secrets(config, engine),
                _clock(engine, clock),
            ]
    if config.datahub_gms_url:
        findings.append(_datahub(config))
    return findings


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _public_url(config: Settings) -> Finding:
    """Check SCIMHUB_PUBLIC_BASE_URL: absolute http(s), no query, fragment or credentials (RFC 7644 §3.1)."""
    url = config.public_base_url
    name, fix = (
        "public URL",
        "set SCIMHUB_PUBLIC_BASE_URL to the URL clients reach, e.g. https://scim.example.com",
    )
    if not url:
        if config.env == "production":
            return _warn(
                name, "SCIMHUB_PUBLIC_BASE_URL is unset: meta.location follows each request's Host", fix
            )
        return _ok(name, "unset: meta.location follows each request's Host")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _fail(name, f"SCIMHUB_PUBLIC_BASE_URL={url!r} is not an absolute http(s) URL", fix)
    if parts.query or parts.fragment or parts.username or parts.password:
        return _fail(name, f"SCIMHUB_PUBLIC_BASE_URL={url!r} carries a query, fragment or credentials", fix)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return _warn(
            name,
            f"{url} is plain HTTP: bearer tokens would cross the network in clear",
            "serve TLS in front of scimhub (docs/deployment.md) and give its https:// URL",
        )
    return _ok(name, url)


@contextmanager
def _engine(url: str, findings: list[Finding]) -> Iterator[Engine | None]:
    """Yield an engine on the database once it answered, else None, adding the finding either way."""
    finding, engine = _connect(url)
    findings.append(finding)
    try:
        yield engine if finding.status != "fail" else None
    finally:
        if engine is not None:
            engine.dispose()


def _connect(url: str) -> tuple[Finding, Engine | None]:
    name, parsed = "database", make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        problem = _sqlite_file_problem(parsed.database or "")
        if problem is not None:
            return problem, None
    try:
        # UTF-8 asked of the server, so that a SQL_ASCII database, whose text psycopg would otherwise
        # hand back as bytes, connects and fails the lower() check with its encoding named.
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "client_encoding": "utf8"}
        options: dict[str, Any] = {"connect_args": connect_args} if backend == "postgresql" else {}
        engine = make_engine(url, **options)
    except (ValueError, ImportError) as error:
        install = (
            "pip install 'scimhub[postgres]'"
            if isinstance(error, ImportError)
            else "use sqlite:/// or postgresql+psycopg://"
        )
        return _fail(name, f"{_shown(url)}: {error}", install), None
    try:
        with engine.connect() as connection:
            version = connection.execute(
                text("SELECT sqlite_version()" if backend == "sqlite" else "SHOW server_version")
            ).scalar_one()
    except Exception as error:  # noqa: BLE001 - any failure to connect is this check's finding
        engine.dispose()
        cause = getattr(error, "orig", None) or error.__cause__ or error  # the driver's own words
        first_line = str(cause).strip().splitlines()[0]
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
        fix = f"check that PostgreSQL runs at {where} and SCIMHUB_DATABASE_URL's user, password and database"
        return _fail(name, f"cannot connect to {_shown(url)}: {first_line}", fix), None
    if backend == "sqlite":
        return _ok(name, f"SQLite {version}, {parsed.database} is writable"), engine
    return _ok(name, f"PostgreSQL {version} at {parsed.host}:{parsed.port or 5432}/{parsed.database}"), engine


def _sqlite_file_problem(path: str) -> Finding | None:
    """Return why SQLite could not write ``path`` (and its ``-wal`` and ``-shm`` beside it), if so."""
    fix = "make the directory writable by this user, or point SCIMHUB_DATABASE_URL at one that is"
    if path in ("", ":memory:"):
        return _warn(
            "database", "an in-memory SQLite database keeps nothing", "give SCIMHUB_DATABASE_URL a file"
        )
    file = Path(path).absolute()
    if not file.parent.is_dir():
        return _fail("database", f"the directory of {file} does not exist", fix)
    if not os.access(file.parent, os.W_OK | os.X_OK):
        return _fail(
            "database", f"{file.parent} is not writable: SQLite writes its journal beside the file", fix
        )
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        return _fail("database", f"{file} is not readable and writable by this user", fix)
    if not file.exists():
        return _warn(
            "database", f"{file} does not exist yet", "`scimhub serve` or `scimhub db upgrade` creates it"
        )
    return None


def _migrations(engine: Engine) -> Finding:
    name = "migrations"
    found = migrate.revisions(engine)
    head = ", ".join(found.head)
    if found.unknown:
        return _fail(
            name,
            f"the database is at {', '.join(found.unknown)}, which this scimhub does not ship (head {head})",
            "a newer scimhub migrated it: run that version, or restore a backup taken before the upgrade",
        )
    if not found.current:
        return _warn(name, "no schema yet", _UPGRADE)
    if found.behind:
        at = ", ".join(found.current)
        return _fail(name, f"at {at}, {found.behind} migration(s) behind head {head}", _UPGRADE)
    try:
        migrate.check(engine)
    except Exception as error:  # noqa: BLE001 - alembic reports drift as an exception with the differences
        return _fail(
            name, f"at head {head} but the tables differ from the code: {error}", "restore the schema"
        )
    return _ok(name, f"at head {head}, no drift")


def _secrets(config: Settings, engine: Engine) -> Finding:
    """Tell where the token signing key and salt come from (ADR 0027)."""
    name = "secrets"
    with engine.connect() as connection:
        stored = _newest_or_count(connection, server_secrets, func.count())
    key, salt = (s.reveal() if s else None for s in (config.token_signing_key, config.token_salt))
    if config.env == "production":
        problems = production_key_problems(key, salt)
        if problems:
            return _fail(name, "SCIMHUB_ENV=production refuses to start", "; ".join(problems))
        if stored:
            return _warn(
                name,
                "configured, but the database still holds the key and salt generated before production mode",
                "tokens signed with those are refused unless they are the configured ones; delete the rows"
                f" of server_secrets so that backups stop carrying them ({_SECURITY})",
            )
        return _ok(
            name, "signing key and salt from the configuration (environment or file), none in the database"
        )
    if key and salt:
        return _ok(name, "signing key and salt from the configuration (SCIMHUB_ENV=development)")
    where = "kept in the database" if stored else "to be generated into the database on first start"
    return _warn(
        name,
        f"the token signing key and salt are {where}, so its backups carry them",
        "in production set SCIMHUB_ENV=production with SCIMHUB_TOKEN_SIGNING_KEY_FILE"
        f" and SCIMHUB_TOKEN_SALT_FILE ({_SECURITY})",
    )


def _newest_or_count(connection: Connection, table: Table, aggregate: ColumnElement[Any]) -> Any:
    """Return ``aggregate`` over ``table``, or None before the migrations made the table."""
    if not inspect(connection).has_table(table.name):
        return None
    return connection.execute(select(aggregate).select_from(table)).scalar()


_UTF8_DATABASE = (
    "create the database in UTF-8 with a libc UTF-8 ctype (CREATE DATABASE … TEMPLATE template0"
    " ENCODING 'UTF8' LOCALE_PROVIDER libc LC_CTYPE 'C.UTF-8'), then move the data with pg_dump"
    " (docs/deployment.md)"
)
FOLDING_SAMPLE = "ΟΔΟΣ İSTANBUL ǄEMAL ÉCOLE 𐐀 IT"
"""Text whose lower case tells the ways of folding apart: a word-final Σ, İ, a titlecase digraph,
an accented Latin letter, a letter beyond the Basic Multilingual Plane, and I (ı in a Turkish
ctype)."""


def _case_folding(engine: Engine) -> Finding:
    """Check that the database's ``lower()`` maps each character alone, as ``lower_each`` does.

    Filters on caseExact=false text compare ``lower()`` of both sides in SQL, and a PATCH's value
    filter folds with ``lower_each`` (ADR 0007). PostgreSQL's ``lower()`` follows the database's
    ctype: a libc UTF-8 one agrees (but a Turkish one: I to ı); ``C`` folds ASCII only, and ICU
    applies context (a final ς). A database whose encoding is not UTF-8 fails: it cannot store
    what clients send.
    """
    name = "lower()"
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            encoding = connection.execute(text("SHOW server_encoding")).scalar_one()
            if encoding != "UTF8":
                detail = f"the database's encoding is {encoding}: it cannot hold every text a client sends"
                return _fail(name, detail, _UTF8_DATABASE)
        folded = connection.execute(select(func.lower(FOLDING_SAMPLE))).scalar_one()
    expected = lower_each(FOLDING_SAMPLE)
    if folded == expected:
        return _ok(name, "maps each character alone, as scimhub's filters expect")
    return _warn(
        name,
        f"the database's lower() gives {folded!r} for {FOLDING_SAMPLE!r}, not {expected!r}: filters on"
        " non-ASCII text would not match as PATCH value filters and SQLite do",
        _UTF8_DATABASE,
    )


def _clock(engine: Engine, clock: Callable[[], float]) -> Finding:
    """Compare this machine's clock with the database server's, and with the newest change written."""
    name, fix = "clock", "synchronise the clocks of every machine with NTP (chrony or systemd-timesyncd)"
    with engine.connect() as connection:
        before = clock()
        server = (
            connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
            if engine.dialect.name == "postgresql"
            else None
        )
        after = clock()
        newest = _newest_or_count(connection, events, func.max(events.c.time))
    if server is not None:
        offset = float(server) - (before + after) / 2
        if abs(offset) > CLOCK_TOLERANCE_SECONDS + (after - before) / 2:
            side = "ahead of" if offset < 0 else "behind"
            return _warn(
                name, f"this machine's clock is {abs(offset):.1f} s {side} the database server's", fix
            )
    if newest is not None and newest / 1_000_000 > after + CLOCK_TOLERANCE_SECONDS:
        ahead = newest / 1_000_000 - after
        return _warn(name, f"the newest change was written {ahead:.1f} s ahead of this machine's clock", fix)
    if server is None:
        return _ok(name, "SQLite runs on this machine's clock; no change was written ahead of it")
    return _ok(name, f"within {CLOCK_TOLERANCE_SECONDS:g} s of the database server's")


def _datahub(config: Settings) -> Finding:
    """Ask GMS who it is and whether it takes the token, as the push does before its first batch."""
    from scimhub.datahub.emitter import EmitterSink
    from scimhub.datahub.sink import PushFailed

    name = "datahub"
    assert config.datahub_gms_url is not None
    try:
        sink = EmitterSink(config.datahub_gms_url, config.datahub_token, config.datahub_timeout_seconds)
        try:
            answered = sink.check()
        finally:
            sink.close()
    except PushFailed as error:
        return _fail(name, error.detail, "see `scimhub datahub status` and docs/deployment.md")
    return _ok(name, answered)


def _line(finding: Finding) -> str:
    fix = f" -> {finding.fix}" if finding.fix else ""
    return f"{finding.status:<4}  {finding.name:<10}  {finding.detail}{fix}"


def doctor(as_json: Json = False, database_url: DatabaseUrl = None) -> None:
    """Check configuration, database, migrations, secrets, clock and DataHub; exit 1 if any fails."""
    findings = diagnose(lambda: settings(database_url))
    failed = any(f.status == "fail" for f in findings)
    if as_json:
        print_json({"ok": not failed, "checks": [asdict(f) for f in findings]})
    else:
        for finding in findings:
            typer.echo(_line(finding))
    if failed:
        raise typer.Exit(1)
