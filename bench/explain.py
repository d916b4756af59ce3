"""Print the query plan of every SQL statement the benchmark's requests execute.

The requests go through the server's own code in this process (token check,
then ``ScimHandler.handle``), with a listener recording each statement and its
parameters; each is then explained on the same database: ``EXPLAIN QUERY PLAN``
on SQLite, with the time of each read (best of three: the plan has none),
``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL inside a transaction that is rolled
back, so the plan shows real row counts and writes nothing.

    explain_scenarios(database_url, token, user_name, group_id, new_member_id)
    explain_requests(database_url, token, [(label, ScimRequest(…)), …])
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import event

from scimhub.scim.messages import ScimRequest
from scimhub.settings import Settings
from scimhub.wiring import build

_SKIP = ("BEGIN", "COMMIT", "ROLLBACK", "SET ", "SAVEPOINT", "RELEASE", "PRAGMA", "SELECT 1")


def _requests(user_name: str, group_id: str, member_id: str) -> list[tuple[str, ScimRequest]]:
    base = "http://bench/scim/v2"
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": member_id}]}],
    }
    return [
        ('GET userName eq "…"', ScimRequest("GET", "/Users", base, {"filter": f'userName eq "{user_name}"'})),
        (
            'GET emails[type eq "work" and value eq "…"]',
            ScimRequest(
                "GET", "/Users", base, {"filter": f'emails[type eq "work" and value eq "{user_name}"]'}
            ),
        ),
        (
            "PATCH add 1 member to the large group",
            ScimRequest("PATCH", f"/Groups/{group_id}", base, body=orjson.dumps(patch)),
        ),
    ]


def explain_scenarios(database_url: str, token: str, user_name: str, group_id: str, member_id: str) -> None:
    """Run each scenario's request once in-process and print the plan of each statement it ran."""
    explain_requests(database_url, token, _requests(user_name, group_id, member_id))


def explain_requests(database_url: str, token: str, requests: list[tuple[str, ScimRequest]]) -> None:
    """Run each labelled request once in-process and print the plan of each statement it ran."""
    services = build(Settings(database_url=database_url), upgrade=False)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(services.engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if not statement.lstrip().upper().startswith(_SKIP):
            captured.append((statement, parameters[0] if many else parameters))

    try:
        actor = services.tokens.authenticate(token)
        _print_plans(services.engine, "authentication (every request)", captured)
        for label, request in requests:
            captured.clear()
            response = services.scim.handle(ScimRequest(**{**request.__dict__, "actor": actor}))
            _print_plans(services.engine, f"{label} -> {response.status}", captured)
    finally:
        event.remove(services.engine, "before_cursor_execute", _record)
        services.close()


def _print_plans(engine: Any, label: str, captured: list[tuple[str, Any]]) -> None:
    print(f"\n===== {label}: {len(captured)} statements")
    statements = list(captured)
    with engine.connect() as connection:
        for statement, parameters in statements:
            print("\n--- " + " ".join(statement.split()))
            print(f"    parameters: {_short(parameters)}")
            if engine.dialect.name == "sqlite":
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                lines = [f"{'  ' * _depth(rows, row)}{row[-1]}" for row in rows]
                if statement.lstrip().upper().startswith("SELECT"):  # EXPLAIN QUERY PLAN has no timing
                    lines.append(f"time: {_time_select(connection, statement, parameters) * 1e3:.2f} ms")
            else:
                transaction = connection.begin()
                try:
                    rows = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    ).all()
                finally:
                    transaction.rollback()
                lines = [row[0] for row in rows]
            print("\n".join("    " + line for line in lines))


def _time_select(connection: Any, statement: str, parameters: Any) -> float:
    """Return the seconds a read takes, all its rows fetched: the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        connection.exec_driver_sql(statement, parameters).all()
        best = min(best, time.perf_counter() - started)
    connection.rollback()
    return best


def _depth(rows: list[Any], row: Any) -> int:
    """Return the nesting of an EXPLAIN QUERY PLAN row (columns: id, parent, notused, detail)."""
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent:
        depth, parent = depth + 1, parents.get(parent, 0)
    return depth


def _short(parameters: Any) -> str:
    text = repr(parameters)
    return text if len(text) < 300 else text[:300] + "…"
