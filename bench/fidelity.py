"""Check that bulk.py generated what the server itself writes, against the running server.

A copy made by substitution is only as good as the substitution: a value that
depends on the user in a way bulk.py does not know (a hash of the userName, a
counter, a new table) would make generated users quietly differ from real ones.
So, after generation, the real server creates one more user (``POST /Users``
with the next number) and adds it to the group of 100 (``PATCH``), and both are
compared with generated ones, modulo id, number and time:

- over SCIM: ``GET /Users/<id>`` of the new user and of the last generated one;
- row by row, in every table: every row that names the new user (its id or its
  userName, in any column) against every row that names the generated one, and
  its membership rows against those of a generated member of the same group;
  times must agree too: each user's creation rows hold one time, its ``created``;
- the generated ids: ``GET /Groups/<group of 100>`` lists exactly the ids
  ``ScaleData.user_id`` computes.

The new user is then removed from the group again; it stays as one more user.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from typing import Any

import orjson
from bulk import TAG, ScaleData, number, readable_columns
from seed import user_body
from sqlalchemy import JSON, String, Text, cast, create_engine, or_, select
from workload import SCIM, member_patches

from scimhub.domain.groups import group_urn
from scimhub.store.sql.tables import groups, metadata

_TIMES = ("created", "last_modified", "time")
_NUMBERED = ("seq",)


class NotFaithful(AssertionError):
    """Generated data differs from what the server writes."""


def _call(base_url: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        base_url + SCIM + path,
        data=None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body)),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        content = response.read()
        return response.status, orjson.loads(content) if content else None


def _masked(value: Any, user_id: str, user_number: str) -> Any:
    """Return ``value`` with the user's id and number masked, so two users' values compare equal."""
    if isinstance(value, str):
        return value.replace(user_id, "<id>").replace(user_number, "<n>")
    return value


def _resource(doc: dict[str, Any], user_id: str, user_number: str) -> Any:
    """Return a SCIM resource with its id, number and times masked."""
    meta = {k: v for k, v in doc.get("meta", {}).items() if k not in ("created", "lastModified")}
    text = orjson.dumps({**doc, "meta": meta}).decode()
    return orjson.loads(_masked(text, user_id, user_number))


def _rows_naming(database_url: str, markers: dict[str, list[str]]) -> dict[str, Counter[tuple[Any, ...]]]:
    """Return, for each key of ``markers``, the rows of every table holding one of its markers in any column.

    Rows are (table, (column, value)…) with ``seq`` left out: the database numbers it.
    """
    every = [m for ms in markers.values() for m in ms]
    found: dict[str, Counter[tuple[Any, ...]]] = {key: Counter() for key in markers}
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                texts = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
                condition = or_(*(cast(c, Text).contains(m, autoescape=True) for c in texts for m in every))
                for row in connection.execute(select(*readable_columns(table)).where(condition)):
                    values = dict(row._mapping)
                    for key, key_markers in markers.items():
                        if any(isinstance(v, str) and m in v for v in values.values() for m in key_markers):
                            found[key][(table.name, *values.items())] += 1
    finally:
        engine.dispose()
    return found


def _normal(rows: Counter[tuple[Any, ...]], user_id: str, user_number: str) -> Counter[tuple[Any, ...]]:
    """Return rows with the user's id and number masked and ``seq`` left out.

    A time is masked as the user's creation time, or as another time: the server
    takes one clock reading per transaction, so the rows of a user's creation
    must all hold its ``created``, and its memberships another.
    """
    created = next((dict(cells)["created"] for table, *cells in rows if table == "users"), None)
    normal: Counter[tuple[Any, ...]] = Counter()
    for (table, *cells), count in rows.items():
        kept = tuple(
            (
                c,
                ("<created>" if v == created else "<another time>")
                if c in _TIMES
                else _masked(v, user_id, user_number),
            )
            for c, v in cells
            if c not in _NUMBERED
        )
        normal[(table, *kept)] += count
    return normal


def _same(what: str, real: Counter[tuple[Any, ...]], generated: Counter[tuple[Any, ...]]) -> None:
    if real != generated:
        raise NotFaithful(
            f"{what}: the server wrote {sorted(map(repr, real - generated))}, "
            f"the generator {sorted(map(repr, generated - real))}"
        )


def check_generated(base_url: str, token: str, database_url: str, data: ScaleData) -> list[str]:
    """Compare generated users and members with ones the server makes; return what was checked.

    :raises NotFaithful: At the first difference.
    """
    new, last, member = data.users, data.users - 1, data.small_size - 1
    status, created = _call(base_url, token, "POST", "/Users", user_body(TAG, new))
    new_id = created["id"]
    _, real = _call(base_url, token, "GET", f"/Users/{new_id}")
    _, generated = _call(base_url, token, "GET", f"/Users/{data.user_id(last)}")
    if _resource(real, new_id, number(new)) != _resource(generated, data.user_id(last), number(last)):
        raise NotFaithful(f"GET /Users: the server's user {real} differs from generated {generated}")
    (patch,) = member_patches(data.small_group, [new_id])
    _call(base_url, token, "PATCH", patch.path.removeprefix(SCIM), patch.body)
    try:
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                name = connection.execute(
                    select(groups.c.display_name).where(groups.c.id == data.small_group)
                )
                group_markers = (data.small_group, group_urn(name.scalar_one()))
        finally:
            engine.dispose()
        users = {
            "new": (new_id, new),
            "last": (data.user_id(last), last),
            "member": (data.user_id(member), member),
        }
        markers = {key: [id, data.user_name(index)] for key, (id, index) in users.items()}
        found = _rows_naming(database_url, markers)
        normal = {key: _normal(found[key], id, number(index)) for key, (id, index) in users.items()}

        def in_group(rows: Counter[tuple[Any, ...]], inside: bool) -> Counter[tuple[Any, ...]]:
            def names_group(row: tuple[Any, ...]) -> bool:
                return any(isinstance(v, str) and any(m in v for m in group_markers) for _, v in row[1:])

            return Counter({row: n for row, n in rows.items() if names_group(row) == inside})

        _same("a user's rows", in_group(normal["new"], False), normal["last"])
        _same("a membership's rows", in_group(normal["new"], True), in_group(normal["member"], True))
    finally:
        (remove,) = member_patches(data.small_group, [new_id], "Remove")
        _call(base_url, token, "PATCH", remove.path.removeprefix(SCIM), remove.body)
    _, group = _call(base_url, token, "GET", f"/Groups/{data.small_group}")
    listed = {m["value"] for m in group.get("members", [])}
    if listed != {data.user_id(i) for i in range(data.small_size)}:
        raise NotFaithful(f"the group of {data.small_size} lists other ids than the generator made")
    tables = sorted({row[0] for rows in normal.values() for row in rows})
    return [
        f"GET /Users/<id> of a user created by POST equals that of a generated user (status {status})",
        f"their rows in every table are equal, modulo id, number and clock ({', '.join(tables)}: "
        f"{sum(normal['new'].values())} rows)",
        "the rows of a member added by PATCH equal those of a generated member",
        f"GET /Groups/<id> of the group of {data.small_size} lists the generated ids",
    ]
