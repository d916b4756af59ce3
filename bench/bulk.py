"""Fill a scimhub database with a million users in seconds, with exactly the rows the server writes.

Why not seed.py: it runs ``Users.create`` once per user, which takes 16 s per
100,000 users on SQLite and 45 s on PostgreSQL, so a million would take minutes;
this takes 17 s and 35 s for a million (2 shared cores).
Here the server's own code path writes one *template*: user 0 (``Users.create``
on a real transaction), then a group of 100 and a large group (``Groups.create``,
what a ``POST /Groups`` stores) with user 0 as their only member. Every row those
calls added, in any table, is read back, and the database copies it for every
other user or member with ``INSERT … SELECT`` over a series of numbers (a
recursive CTE on SQLite, ``generate_series`` on PostgreSQL): no row crosses the
wire and no Python runs per row. What differs from user to user is substituted:

- the id: the template's id with its first 8 hex digits replaced by a bijective
  hash of the user's number, so ids are unique and arrive in random order, as
  uuid4 ids do (their index grows the way the server's would);
- the user's number, 7 digits, wherever the template's ``0000000`` appears: the
  userName, its key, the URN, externalId, displayName, the emails rows, the JSON
  ``doc``, the events' URNs;
- the time: user ``i`` is created ``i`` µs after the template (its ``created``,
  ``last_modified``, its event's ``time``, and the copy of ``created`` that its
  memberships and roles keep); members are added in one transaction, as one
  POST of the whole group would, so their events keep its time.

Events are written too (one CREATE per user, one GROUP_MEMBERSHIP ADD per member,
in ``seq`` order), so the event feed's cursors and offsets see a real history.
A template call that *changed* an existing row, rather than added one, stops the
generation: copies could not reproduce it. Indexes stay in place while rows go
in, so the schema is never touched. scale.py then checks the result against the
running server: a real ``POST /Users`` compared, over SCIM and row by row in every
table, with a generated user.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from seed import group_body, user_body
from sqlalchemy import JSON, Column, Connection, Engine, Table, Text, cast, create_engine, select, text
from sqlalchemy.dialects import postgresql

from scimhub.directory.actors import Actor
from scimhub.directory.groups import GroupEdit
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Member, MemberChange
from scimhub.query.schema import GROUP, USER
from scimhub.scim.values import read_resource
from scimhub.settings import Settings
from scimhub.store.sql.tables import metadata
from scimhub.wiring import build

TAG = "scale"
"""The prefix of every generated userName: ``scale.user0000042@contoso.example``."""
WIDTH = 7
"""Digits of a user's number in its strings; the largest data set is 10**WIDTH users."""
TEMPLATE = 0
"""The number of the template user, whose rows the server writes itself."""
BATCH = 25_000
"""Users (or members) per ``INSERT … SELECT``: a step of the progress bar."""
_MIX = 2654435761
"""Knuth's multiplicative hash: odd, so ``i·MIX mod 2³²`` maps distinct numbers to distinct ids."""
_TIME_COLUMNS = ("created", "last_modified", "time")
"""The times of the rows one call writes: shifted by ``i`` µs in user ``i``'s own rows."""
_CREATED_COPIES = ("member_created", "user_created")
"""The user's ``created`` kept with its memberships and roles (ADR 0052): shifted in every copy."""
_SEQUENCE_COLUMNS = ("seq",)
"""Numbered by the database as rows go in (``events.seq``): never copied."""


def number(index: int) -> str:
    """Return a user's number as it appears in its strings."""
    return f"{index:0{WIDTH}d}"


@dataclass(frozen=True)
class ScaleData:
    """What the measurements need to know of a generated data set."""

    users: int
    template_id: str
    id_suffix: str
    """The last 24 hex digits of every generated id (the template's, its first digit changed)."""
    small_group: str
    small_size: int
    large_group: str
    large_size: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds of each step."""

    def user_id(self, index: int) -> str:
        """Return the SCIM id of user ``index``."""
        if index == TEMPLATE:
            return self.template_id
        return f"{index * _MIX % 2**32:08x}{self.id_suffix}"

    def user_name(self, index: int) -> str:
        """Return the userName of user ``index`` (also its work email)."""
        return str(user_body(TAG, index)["userName"])

    def external_id(self, index: int) -> str:
        """Return the externalId of user ``index``."""
        return str(user_body(TAG, index)["externalId"])


# Reading what the server wrote


def readable_columns(table: Table) -> list[Any]:
    """Return the table's columns for reading raw values: JSON as its text, everything else as is."""
    return [cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.columns]


def snapshot(connection: Connection) -> dict[str, Counter[tuple[Any, ...]]]:
    """Return every row of every table, as raw values (for a small database: the template's)."""
    return {
        table.name: Counter(tuple(row) for row in connection.execute(select(*readable_columns(table))))
        for table in metadata.sorted_tables
    }


def added_rows(
    before: dict[str, Counter[tuple[Any, ...]]], after: dict[str, Counter[tuple[Any, ...]]], what: str
) -> dict[str, list[dict[str, Any]]]:
    """Return the rows ``after`` has and ``before`` lacks, per table, as column → value.

    :raises RuntimeError: When a row of ``before`` is gone or changed: a copy would not do that.
    """
    added: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        gone = before[table.name] - after[table.name]
        if gone:
            raise RuntimeError(
                f"{what} changed rows of {table.name}, which bulk copies cannot reproduce: {gone}"
            )
        new = after[table.name] - before[table.name]
        if new:
            names = [c.name for c in table.columns]
            added[table.name] = [dict(zip(names, row, strict=True)) for row in new.elements()]
    return added


# Copying it


@dataclass(frozen=True)
class _Template:
    """The rows one template call added that name the template user: copied once per other user."""

    rows: dict[str, list[dict[str, Any]]]
    user_id: str
    token: str
    """The template user's number, as its strings hold it."""
    created: int
    """The template user's creation time, shifted by ``i`` µs in user ``i``'s rows."""
    own_times: bool
    """Whether the rows' times are the user's own (its creation), not those of a call on a group."""

    def names_user(self, row: dict[str, Any]) -> bool:
        """Tell whether a row holds the template user's id or number, in any column."""
        return any(isinstance(v, str) and (self.token in v or self.user_id in v) for v in row.values())


class _Sql:
    """The few SQL fragments that differ between SQLite and PostgreSQL, around a series ``i``."""

    def __init__(self, dialect: str, id_suffix: str) -> None:
        self.dialect, self.id_suffix = dialect, id_suffix

    def series(self, columns: str, table: str, expressions: str) -> str:
        """Return ``INSERT INTO table (columns) SELECT expressions`` for ``i`` from :first to :last."""
        if self.dialect == "sqlite":
            return (
                f"INSERT INTO {table} ({columns}) WITH RECURSIVE series(i) AS "
                "(SELECT :first UNION ALL SELECT i + 1 FROM series WHERE i < :last) "
                f"SELECT {expressions} FROM series"
            )
        return (
            f"INSERT INTO {table} ({columns}) SELECT {expressions} "
            "FROM generate_series(CAST(:first AS BIGINT), CAST(:last AS BIGINT)) AS series(i)"
        )

    def number(self) -> str:
        return (
            f"printf('%0{WIDTH}d', i)" if self.dialect == "sqlite" else f"lpad(CAST(i AS TEXT), {WIDTH}, '0')"
        )

    def user_id(self) -> str:
        hashed = f"(i * {_MIX}) % 4294967296"
        if self.dialect == "sqlite":
            return f"(printf('%08x', {hashed}) || :id_suffix)"
        return f"(lpad(to_hex({hashed}), 8, '0') || :id_suffix)"

    def value(self, parameter: str, column: Column[Any]) -> str:
        """Return a bound template value; on PostgreSQL cast to its column's type (a SELECT gives it none)."""
        if self.dialect == "sqlite":
            return f":{parameter}"
        return f"CAST(:{parameter} AS {column.type.compile(dialect=postgresql.dialect())})"

    def substituted(self, parameter: str, column: Column[Any]) -> str:
        """Return a bound template string with the number, then the id, of user ``i`` put in.

        The number first: the id put in could hold the template's number (``0000000``), never the reverse.
        """
        numbered = f"replace(CAST(:{parameter} AS TEXT), :number, {self.number()})"
        replaced = f"replace({numbered}, :template_id, {self.user_id()})"
        return (
            f"CAST({replaced} AS JSONB)"
            if self.dialect != "sqlite" and isinstance(column.type, JSON)
            else replaced
        )


def _copy_statement(
    sql: _Sql, table: Table, row: dict[str, Any], template: _Template
) -> tuple[str, dict[str, Any]]:
    """Return the INSERT … SELECT that copies one template row for every ``i`` of the series."""
    columns, expressions = [], []
    parameters = {"id_suffix": sql.id_suffix, "template_id": template.user_id, "number": template.token}
    for position, column in enumerate(table.columns):
        if column.name in _SEQUENCE_COLUMNS:
            continue
        value, parameter = row[column.name], f"v{position}"
        parameters[parameter] = value
        if value == template.user_id:
            expression = sql.user_id()
        elif isinstance(value, str) and (template.token in value or template.user_id in value):
            expression = sql.substituted(parameter, column)
        elif value == template.created and (
            column.name in _CREATED_COPIES or (template.own_times and column.name in _TIME_COLUMNS)
        ):
            expression = f"({sql.value(parameter, column)} + i)"
        else:
            expression = sql.value(parameter, column)
        columns.append(column.name)
        expressions.append(expression)
    return sql.series(", ".join(columns), table.name, ", ".join(expressions)), parameters


def _copies(sql: _Sql, template: _Template) -> list[tuple[str, dict[str, Any]]]:
    """Return the statements that copy every template row, parents first (foreign keys)."""
    statements = []
    for table in metadata.sorted_tables:
        for row in template.rows.get(table.name, ()):
            statements.append(_copy_statement(sql, table, row, template))
    return statements


def _per_user(
    rows: dict[str, list[dict[str, Any]]], user_id: str, token: str, created: int, own_times: bool
) -> _Template:
    """Return the template of the rows that name the template user: those are copied per user or member.

    The others are a group's own rows (its row, its CREATE event): written once, by the server.
    """
    template = _Template({}, user_id, token, created, own_times)
    for name, table_rows in rows.items():
        naming = [row for row in table_rows if template.names_user(row)]
        if naming:
            template.rows[name] = naming
    return template


@contextmanager
def _bulk_connection(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in one transaction; on SQLite without journal or fsync until it commits.

    The database is fresh and thrown away after the run, so a crash half-way loses nothing.
    WAL mode is restored afterwards (the server sets it on connect anyway).
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-524288", "temp_store=MEMORY"):
                connection.exec_driver_sql(f"PRAGMA {pragma}")
            connection.commit()  # ends SQLAlchemy's autobegun transaction; SQLite had none open
        with connection.begin():
            yield connection
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def _progress() -> Progress:
    return Progress(
        TextColumn("  {task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _template_rows(
    database_url: str, small: int, large: int
) -> tuple[str, int, list[tuple[str, int, dict[str, Any]]], dict[str, Any]]:
    """Let the server's code create user 0 and the two groups; return what each call added."""
    services = build(Settings(database_url=database_url))
    try:
        with services.store.read() as tx:  # `token create` made it: the rows name it as their actor
            admin = tx.users.get_by_name("admin")
        if admin is None:
            raise RuntimeError("`scimhub token create` left no user named admin")
        actor = Actor(admin.id, admin.urn)

        def added_by(what: str, call: Any) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
            with services.engine.connect() as connection:
                before = snapshot(connection)
            result = call()
            with services.engine.connect() as connection:
                return result, added_rows(before, snapshot(connection), what)

        body = read_resource(USER, user_body(TAG, TEMPLATE))
        user, user_rows = added_by(
            "creating a user", lambda: services.users.create(actor, UserEdit(body.doc))
        )
        groups = []
        for size in (small, large):
            doc = read_resource(GROUP, group_body(f"Scale group of {size:,} members")).doc
            edit = GroupEdit(doc, MemberChange(add=(Member(user.id),)))
            group, rows = added_by("creating a group", lambda edit=edit: services.groups.create(actor, edit))
            groups.append((group.id, size, rows))
    finally:
        services.close()
    return user.id, user.created, groups, user_rows


def generate(database_url: str, users: int, small: int, large: int) -> ScaleData:
    """Fill a migrated database holding the ``admin`` user with ``users`` users and two groups.

    Users are numbered 0 to ``users``-1; the groups hold users 0 to ``small``-1 and
    0 to ``large``-1.

    :raises ValueError: When the sizes do not fit (groups larger than the users, too many users).
    """
    if not 0 < small <= large <= users < 10**WIDTH:
        raise ValueError(f"need 0 < small ({small}) <= large ({large}) <= users ({users}) < {10**WIDTH:,}")
    started = time.monotonic()
    user_id, created, groups, user_rows = _template_rows(database_url, small, large)
    seconds = {"template (server code)": time.monotonic() - started}
    token = number(TEMPLATE)
    if token in user_id:
        raise RuntimeError(f"the template id {user_id} holds {token}: run again")
    suffix = ("1" if user_id[8] == "0" else "0") + user_id[9:]  # never the template's own id
    user_template = _per_user(user_rows, user_id, token, created, own_times=True)
    if user_template.rows != user_rows:
        raise RuntimeError(
            f"creating a user added rows that do not name it, which copies cannot make: {user_rows}"
        )
    jobs = [("users", users, user_template)]
    # Members are added in the group's one transaction (a POST of the whole group): their rows keep its time.
    jobs += [
        (f"members, group of {size:,}", size, _per_user(rows, user_id, token, created, own_times=False))
        for _, size, rows in groups
    ]
    engine = create_engine(database_url)
    sql = _Sql(engine.dialect.name, suffix)
    try:
        with _progress() as progress, _bulk_connection(engine) as connection:
            for label, count, template in jobs:
                started = time.monotonic()
                statements = _copies(sql, template)
                task = progress.add_task(label, total=count, completed=1)  # the template: by the server
                for first in range(1, count, BATCH):
                    last = min(first + BATCH, count) - 1
                    for statement, parameters in statements:
                        connection.execute(text(statement), {**parameters, "first": first, "last": last})
                    progress.advance(task, last - first + 1)
                seconds[label] = time.monotonic() - started
            started = time.monotonic()
        seconds["commit"] = time.monotonic() - started
    finally:
        engine.dispose()
    (small_id, _, _), (large_id, _, _) = groups
    return ScaleData(users, user_id, suffix, small_id, small, large_id, large, seconds)
