"""Bulk requests (RFC 7644 §3.7, ADR 0034): reading, bulkId order and cycles, and the run's rules."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from scimhub.errors import Conflict, InvalidSyntax, InvalidValue, PayloadTooLarge
from scimhub.scim.bulk import BULK_REQUEST, BULK_RESPONSE, plan, read_bulk_request, resolve
from scimhub.scim.bulk_run import BulkRunner
from scimhub.scim.messages import ScimRequest, ScimResponse

BASE = "https://scim.example.com/scim/v2"
NESTED = orjson.loads(b"[" * 1000 + b"]" * 1000)
"""As deep as a body may nest (orjson reads up to 1,024 levels), far deeper than it can re-encode."""


def body(*operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schemas": [BULK_REQUEST], "Operations": list(operations), **extra}


def post(bulk_id: str, path: str = "/Users", **data: Any) -> dict[str, Any]:
    return {"method": "POST", "path": path, "bulkId": bulk_id, "data": data or {"userName": bulk_id}}


def group(bulk_id: str, *members: str) -> dict[str, Any]:
    return post(bulk_id, "/Groups", displayName=bulk_id, members=[{"value": f"bulkId:{m}"} for m in members])


def order(*operations: dict[str, Any]) -> list[tuple[int, str | None]]:
    """Return (index, error class name) in the planned order."""
    planned = plan(read_bulk_request(body(*operations), 100).operations)
    return [(op.index, type(op.error).__name__ if op.error else None) for op in planned]


def test_operations_without_references_keep_the_request_order() -> None:
    assert order(post("a"), post("b"), {"method": "DELETE", "path": "/Users/x"}) == [
        (0, None),
        (1, None),
        (2, None),
    ]


def test_a_forward_reference_runs_after_the_post_it_names() -> None:
    """§3.7.2: a group naming users created later runs after them; the rest keep their order."""
    assert order(group("g", "u1", "u2"), post("u1"), post("x"), post("u2")) == [
        (1, None),
        (2, None),
        (3, None),
        (0, None),
    ]


def test_a_reference_in_the_path_counts() -> None:
    """``/Users/bulkId:u`` waits for the POST of ``u``."""
    patch = {"method": "PATCH", "path": "/Users/bulkId:u", "data": {"Operations": []}}
    assert order(patch, post("u")) == [(1, None), (0, None)]


def test_chains_of_forward_references_are_followed() -> None:
    assert order(group("a", "b"), group("b", "c"), post("c")) == [(2, None), (1, None), (0, None)]


@pytest.mark.parametrize(
    ("operations", "detail"),
    [
        (
            [group("a", "a")],
            "operation 0 (POST /Groups, bulkId a) is part of a cycle of bulkId references (a → a)",
        ),
        ([group("a", "b"), group("b", "a")], "(a → b → a)"),
        ([group("a", "b"), group("b", "c"), group("c", "a")], "(a → b → c → a)"),
    ],
)
def test_a_cycle_is_refused_with_a_409_naming_it(operations: list[dict[str, Any]], detail: str) -> None:
    """§3.7.1 lets a provider refuse circular references with 409; the detail names the cycle."""
    planned = plan(read_bulk_request(body(*operations), 100).operations)
    assert all(isinstance(op.error, Conflict) for op in planned)
    assert detail in str(planned[0].error)


def test_an_operation_waiting_on_a_cycle_is_refused_and_says_so() -> None:
    """Not in the cycle itself, but it can never run: 409 saying which cycle it waits on."""
    planned = {
        op.index: op
        for op in plan(
            read_bulk_request(
                body(group("a", "b"), group("b", "a"), group("w", "a"), post("free")), 100
            ).operations
        )
    }
    assert "waits on a cycle of bulkId references (a → b → a)" in str(planned[2].error)
    assert planned[3].error is None


def test_a_bulk_id_no_post_declares_is_a_400() -> None:
    planned = plan(read_bulk_request(body(group("g", "ghost")), 100).operations)
    assert isinstance(planned[0].error, InvalidValue) and "'ghost', which no POST declares" in str(
        planned[0].error
    )


def test_resolve_puts_ids_in_place_of_bulk_ids_in_path_and_data() -> None:
    """Whole strings and path segments of the form bulkId:<id>; nothing else is touched."""
    operation = read_bulk_request(
        body(
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:g",
                "data": {
                    "Operations": [{"op": "add", "value": [{"value": "bulkId:u"}, {"value": "a bulkId:u"}]}]
                },
            }
        ),
        10,
    ).operations[0]
    path, data = resolve(operation, {"g": "G1", "u": "U1"})
    assert path == "/Groups/G1"
    assert data == {"Operations": [{"op": "add", "value": [{"value": "U1"}, {"value": "a bulkId:u"}]}]}
    with pytest.raises(KeyError):
        resolve(operation, {"g": "G1"})


@pytest.mark.parametrize(
    ("request_body", "error", "detail"),
    [
        ([], InvalidSyntax, "JSON object"),
        ({"Operations": []}, InvalidSyntax, "schemas must contain"),
        ({"schemas": [BULK_REQUEST]}, InvalidSyntax, "Operations array"),
        (body(failOnErrors=0), InvalidValue, "failOnErrors must be a positive integer"),
        (body(failOnErrors=True), InvalidValue, "failOnErrors"),
        (body(post("a"), post("a")), InvalidValue, "bulkId 'a' names two POST operations"),
        (
            body(*[post(str(i)) for i in range(4)]),
            PayloadTooLarge,
            "4 operations, more than maxOperations (3)",
        ),
    ],
)
def test_a_request_that_cannot_be_read_is_refused_whole(
    request_body: Any, error: type[Exception], detail: str
) -> None:
    with pytest.raises(error, match=detail.replace("(", r"\(").replace(")", r"\)")):
        read_bulk_request(request_body, 3)


@pytest.mark.parametrize(
    ("operation", "detail"),
    [
        ("not an object", "operation 0 is not a JSON object"),
        ({"method": "GET", "path": "/Users"}, "method must be one of POST, PUT, PATCH, DELETE"),
        ({"method": "DELETE"}, "path must be a resource path"),
        ({"method": "POST", "path": "/Users", "data": {}}, "a POST needs a bulkId"),
        ({"method": "PUT", "path": "/Users/x"}, "a PUT needs data"),
        ({"method": "PUT", "path": "/Users/x", "data": {}, "version": 3}, "version must be an ETag string"),
        ({"method": "POST", "path": "/Users", "bulkId": "", "data": {}}, "bulkId must be a non-empty string"),
        (
            {"method": "PUT", "path": "/Users/x", "data": {"a": NESTED}},
            "data nests deeper than 32 levels; no SCIM body does",
        ),
    ],
)
def test_an_operation_that_cannot_run_as_written_carries_its_error(operation: Any, detail: str) -> None:
    """§3.7.3: one bad operation is answered in its place; the others still run."""
    read = read_bulk_request(body(operation), 10).operations[0]
    assert read.error is not None and detail in read.error.detail


class Recorder:
    """Stands in for the handler: records each request, answers as ``answers`` says (default 201/204)."""

    def __init__(
        self, clock: list[float] | None = None, cost: float = 0.0, fail: frozenset[str] = frozenset()
    ) -> None:
        self.requests: list[ScimRequest] = []
        self.clock, self.cost, self.fail = clock, cost, fail

    def __call__(self, request: ScimRequest) -> ScimResponse:
        self.requests.append(request)
        if self.clock is not None:
            self.clock[0] += self.cost
        data = orjson.loads(request.body) if request.body else {}
        if data.get("userName") in self.fail:
            return ScimResponse(409, {"status": "409", "detail": "taken"})
        if request.method == "POST":
            id = f"id-{len(self.requests)}"
            return ScimResponse(201, {"id": id}, {"Location": f"{BASE}{request.path}/{id}", "ETag": 'W/"1"'})
        return ScimResponse(204, None, {"ETag": 'W/"2"'})


def run(
    recorder: Recorder,
    *operations: dict[str, Any],
    timeout: float = 30,
    clock: list[float] | None = None,
    **extra: Any,
) -> list[dict[str, Any]]:
    ticks = clock if clock is not None else [0.0]
    runner = BulkRunner(recorder, timeout, lambda: ticks[0])
    response = runner.run(
        ScimRequest("POST", "/Bulk", BASE), read_bulk_request(body(*operations, **extra), 1000)
    )
    assert response["schemas"] == [BULK_RESPONSE]
    result: list[dict[str, Any]] = response["Operations"]
    return result


def test_each_operation_is_sent_as_its_single_request_with_ids_in_place() -> None:
    """Forward references resolved; If-Match from version; the response in the request's order."""
    recorder = Recorder()
    patch = {"method": "PATCH", "path": "/Users/bulkId:u", "version": 'W/"1"', "data": {"Operations": []}}
    results = run(recorder, group("g", "u"), post("u"), patch)
    sent = [(r.method, r.path, r.header("if-match")) for r in recorder.requests]
    assert sent == [("POST", "/Users", None), ("POST", "/Groups", None), ("PATCH", "/Users/id-1", 'W/"1"')]
    assert orjson.loads(recorder.requests[1].body)["members"] == [{"value": "id-1"}]
    assert results == [
        {
            "method": "POST",
            "bulkId": "g",
            "version": 'W/"1"',
            "location": f"{BASE}/Groups/id-2",
            "status": "201",
        },
        {
            "method": "POST",
            "bulkId": "u",
            "version": 'W/"1"',
            "location": f"{BASE}/Users/id-1",
            "status": "201",
        },
        {"method": "PATCH", "version": 'W/"2"', "location": f"{BASE}/Users/id-1", "status": "204"},
    ]


def test_an_operation_naming_a_failed_post_fails_with_409() -> None:
    recorder = Recorder(fail=frozenset({"u"}))
    results = run(recorder, post("u"), group("g", "u"))
    assert [r["status"] for r in results] == ["409", "409"]
    assert "names bulkId 'u', whose POST did not succeed" in results[1]["response"]["detail"]
    assert "location" not in results[0] and len(recorder.requests) == 1


def test_an_operation_naming_a_post_refused_as_read_fails_with_409_too() -> None:
    """A POST without data declares its bulkId all the same: who names it fails as above (session 40)."""
    recorder = Recorder()
    results = run(recorder, {"method": "POST", "path": "/Users", "bulkId": "u"}, group("g", "u"))
    assert [r["status"] for r in results] == ["400", "409"]
    assert "names bulkId 'u', whose POST did not succeed" in results[1]["response"]["detail"]
    assert recorder.requests == []


def test_fail_on_errors_stops_after_that_many_errors() -> None:
    """§3.7.3: after failOnErrors errors nothing more runs, and the response holds what ran."""
    recorder = Recorder(fail=frozenset({"bad1", "bad2"}))
    results = run(recorder, post("ok"), post("bad1"), post("bad2"), post("never"), failOnErrors=2)
    assert [r["status"] for r in results] == ["201", "409", "409"]
    assert len(recorder.requests) == 3


def test_without_fail_on_errors_every_operation_runs() -> None:
    recorder = Recorder(fail=frozenset({"bad1"}))
    assert [r["status"] for r in run(recorder, post("bad1"), post("ok"))] == ["409", "201"]


def test_only_writes_on_users_and_groups_may_be_bulk_operations() -> None:
    """No search, no nested Bulk, no discovery: each answered 400/404/405 without running."""
    recorder = Recorder()
    results = run(
        recorder,
        {"method": "POST", "path": "/Users/.search", "bulkId": "s", "data": {}},
        {"method": "POST", "path": "/Bulk", "bulkId": "b", "data": body()},
        {"method": "DELETE", "path": "/Nothing/here"},
        {"method": "PUT", "path": "/Users", "data": {}},
    )
    assert [r["status"] for r in results] == ["400", "400", "404", "405"]
    assert recorder.requests == []


def test_operations_not_started_by_the_deadline_answer_503_and_do_not_run() -> None:
    """Each op costs 4 s of a 10 s budget: the first three start, the rest answer 503 untouched."""
    clock = [0.0]
    recorder = Recorder(clock, cost=4.0)
    results = run(recorder, *[post(f"u{i}") for i in range(5)], timeout=10, clock=clock)
    assert [r["status"] for r in results] == ["201", "201", "201", "503", "503"]
    assert len(recorder.requests) == 3
    late = results[3]
    assert "location" not in late and late["bulkId"] == "u3"
    assert "was not started: the bulk request ran out of its 10 seconds" in late["response"]["detail"]
