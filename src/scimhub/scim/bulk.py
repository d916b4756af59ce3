"""Bulk requests (RFC 7644 §3.7), read and put in order: pure, no request is run here.

A ``BulkRequest`` is read into ``BulkOperation`` values; ``plan`` orders them so
that every operation runs after the POSTs whose ``bulkId`` it names (forward
references, §3.7.2), keeping the request's order otherwise, and refuses those
caught in a cycle with a 409 naming it (§3.7.1 lets a provider stop there);
``resolve`` puts the ids the POSTs made in place of ``bulkId:<id>``. Running the
operations is ``bulk_run.py``'s.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scimhub.errors import Conflict, InvalidSyntax, InvalidValue, PayloadTooLarge, ScimhubError

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
_REFERENCE = re.compile(r"bulkId:(.+)")
MAX_DEPTH = 32
"""How deep an operation's data may nest: a PATCH of a complex multi-valued attribute needs 5; the
bound keeps re-encoding it (orjson stops at 255) and resolving its references cheap and safe."""


@dataclass(frozen=True)
class BulkOperation:
    """One operation of a bulk request, as sent; ``error`` set when it cannot run as written."""

    index: int
    """Its place in the request, from 0."""
    method: str
    path: str
    bulk_id: str | None = None
    version: str | None = None
    """The ETag the client holds; sent as ``If-Match``."""
    data: Any = None
    references: frozenset[str] = frozenset()
    """The bulkIds its path and data name."""
    error: ScimhubError | None = None


@dataclass(frozen=True)
class BulkRequest:
    """A read bulk request."""

    operations: tuple[BulkOperation, ...]
    fail_on_errors: int | None
    """Stop after this many errors; None: run every operation."""


def read_bulk_request(body: object, max_operations: int) -> BulkRequest:
    """Return the bulk request ``body`` holds.

    An operation that cannot run as written (no method, no path, a POST without
    bulkId) is kept with its ``error``, to be answered in its place (§3.7.3).

    :raises InvalidSyntax: When the body is not a BulkRequest with an Operations array.
    :raises InvalidValue: When failOnErrors is not a positive integer or two POSTs share a bulkId.
    :raises PayloadTooLarge: When it holds more than ``max_operations`` operations (§3.7.4).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("a bulk request must be a JSON object")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise InvalidSyntax(f"a bulk request's schemas must contain {BULK_REQUEST}")
    raw = body.get("Operations")
    if not isinstance(raw, list):
        raise InvalidSyntax("a bulk request needs an Operations array")
    if len(raw) > max_operations:
        raise PayloadTooLarge(
            f"the bulk request holds {len(raw)} operations, more than maxOperations ({max_operations})"
        )
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int) or fail_on_errors < 1
    ):
        raise InvalidValue(f"failOnErrors must be a positive integer, not {fail_on_errors!r}")
    operations = tuple(_operation(index, item) for index, item in enumerate(raw))
    seen: set[str] = set()
    for operation in operations:
        if operation.method == "POST" and operation.bulk_id is not None:
            if operation.bulk_id in seen:
                raise InvalidValue(
                    f"bulkId '{operation.bulk_id}' names two POST operations; each must be unique"
                )
            seen.add(operation.bulk_id)
    return BulkRequest(operations, fail_on_errors)


def _operation(index: int, item: object) -> BulkOperation:
    if not isinstance(item, dict):
        return BulkOperation(index, "", "", error=InvalidSyntax(f"operation {index} is not a JSON object"))
    method = item.get("method")
    path = item.get("path")
    bulk_id, version, data = item.get("bulkId"), item.get("version"), item.get("data")
    method = method.upper() if isinstance(method, str) else method
    error: ScimhubError | None = None
    if method not in METHODS:
        error = InvalidValue(f"operation {index}: method must be one of {', '.join(METHODS)}, not {method!r}")
    elif not isinstance(path, str) or not path.startswith("/"):
        error = InvalidValue(f"operation {index}: path must be a resource path such as /Users, not {path!r}")
    elif bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id):
        error = InvalidValue(f"operation {index}: bulkId must be a non-empty string")
    elif method == "POST" and bulk_id is None:
        error = InvalidValue(f"operation {index}: a POST needs a bulkId (RFC 7644 §3.7)")
    elif version is not None and not isinstance(version, str):
        error = InvalidValue(f"operation {index}: version must be an ETag string")
    elif method != "DELETE" and data is None:
        error = InvalidValue(f"operation {index}: a {method} needs data")
    elif _deeper_than(data, MAX_DEPTH):
        error = InvalidValue(
            f"operation {index}: data nests deeper than {MAX_DEPTH} levels; no SCIM body does"
        )
    path = path if isinstance(path, str) else ""
    ok = error is None
    return BulkOperation(
        index,
        method if isinstance(method, str) else "",
        path,
        bulk_id if isinstance(bulk_id, str) else None,
        version if isinstance(version, str) else None,
        data,
        _references(path, data) if ok else frozenset(),
        error,
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Tell whether ``value`` nests objects and arrays more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _references(path: str, data: Any) -> frozenset[str]:
    """Return every bulkId named by ``path`` (a segment ``bulkId:<id>``) or ``data`` (a whole string)."""
    found = {m.group(1) for part in path.split("/") if (m := _REFERENCE.fullmatch(part))}
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and (m := _REFERENCE.fullmatch(item)):
            found.add(m.group(1))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(found)


def plan(operations: tuple[BulkOperation, ...]) -> list[BulkOperation]:
    """Return the operations in the order to run them; those that cannot run carry their ``error``.

    Each runs after the POSTs whose bulkIds it names, otherwise in the request's
    order (a stable topological sort). A bulkId no POST declares is a 400; an
    operation in a cycle of references, or waiting on one, a 409 that names the cycle.
    """
    # A POST refused as it was read still declares its bulkId: what names it fails for want of its
    # id (409), as when the POST fails when it runs, not as naming nothing (400).
    creators = {op.bulk_id: op.index for op in operations if op.method == "POST" and op.bulk_id}
    ops = list(operations)
    for op in operations:
        unknown = sorted(ref for ref in op.references if ref not in creators)
        if unknown and op.error is None:
            names = ", ".join(f"'{ref}'" for ref in unknown)
            ops[op.index] = _failed(
                op, InvalidValue(f"{_name(op)} names bulkId {names}, which no POST declares")
            )
    # An operation naming a POST refused here runs anyway, to fail for want of its id (bulk_run).
    needs = {
        op.index: {creators[r] for r in op.references if ops[creators[r]].error is None}
        for op in ops
        if op.error is None
    }
    waiting = {index: set(deps) for index, deps in needs.items()}
    dependents: dict[int, list[int]] = {}
    for index, deps in needs.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(index)
    ready = [index for index, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    runnable: list[BulkOperation] = []
    while ready:
        index = heapq.heappop(ready)
        runnable.append(ops[index])
        for dependent in dependents.get(index, ()):
            waiting[dependent].discard(index)
            if not waiting[dependent]:
                heapq.heappush(ready, dependent)
    placed = {op.index for op in runnable}
    refused = [op for op in ops if op.error is not None or op.index not in placed]
    refused = [
        op if op.error is not None else _failed(op, Conflict(_cycle_detail(ops, needs, placed, op.index)))
        for op in refused
    ]
    return _merge(runnable, refused)


def _merge(runnable: list[BulkOperation], refused: list[BulkOperation]) -> list[BulkOperation]:
    """Return ``runnable`` in its order with each refused operation where the request's order puts it."""
    order: list[BulkOperation] = []
    pending = iter(refused)  # by index
    waiting = next(pending, None)
    for op in runnable:
        while waiting is not None and waiting.index < op.index:
            order.append(waiting)
            waiting = next(pending, None)
        order.append(op)
    if waiting is not None:
        order.append(waiting)
    order.extend(pending)
    return order


def _cycle_detail(ops: list[BulkOperation], needs: dict[int, set[int]], placed: set[int], start: int) -> str:
    """Say which cycle of bulkId references keeps operation ``start`` from running."""
    path = [start]
    while True:
        step = min(dep for dep in needs[path[-1]] if dep not in placed)
        if step in path:
            cycle = path[path.index(step) :] + [step]
            break
        path.append(step)
    chain = " → ".join(str(ops[i].bulk_id) for i in cycle)
    where = "is part of" if start in cycle else "waits on"
    return (
        f"{_name(ops[start])} {where} a cycle of bulkId references ({chain}); "
        "create one of them first and PATCH the reference in a later request"
    )


def _failed(op: BulkOperation, error: ScimhubError) -> BulkOperation:
    return BulkOperation(op.index, op.method, op.path, op.bulk_id, op.version, op.data, op.references, error)


def _name(op: BulkOperation) -> str:
    return f"operation {op.index} ({op.method} {op.path}{f', bulkId {op.bulk_id}' if op.bulk_id else ''})"


def resolve(operation: BulkOperation, ids: Mapping[str, str]) -> tuple[str, Any]:
    """Return the operation's path and data with the id each named bulkId's POST made in its place.

    :raises KeyError: With the bulkId no id is known for.
    """
    path = "/".join(
        ids[m.group(1)] if (m := _REFERENCE.fullmatch(p)) else p for p in operation.path.split("/")
    )
    return path, _resolve(operation.data, ids)


def _resolve(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        found = _REFERENCE.fullmatch(value)
        return ids[found.group(1)] if found else value
    if isinstance(value, dict):
        return {key: _resolve(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, ids) for item in value]
    return value
