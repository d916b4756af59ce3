"""Run a bulk request's operations, each exactly as its single request would run (RFC 7644 §3.7, ADR 0034).

Every operation becomes a ``ScimRequest`` of its own, with the bulk request's
caller and base URL, and goes through the handler's one entry point: the same
route, the same privilege check, the same use case in its own transaction with
its own events. An operation that failed does not undo those before it (§3.7).
``failOnErrors`` stops the run after that many errors; past the deadline, the
operations not started answer 503 without running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from scimhub.errors import Conflict, InvalidValue, ScimhubError, ServiceUnavailable
from scimhub.scim.bulk import BULK_RESPONSE, BulkOperation, BulkRequest, plan, resolve
from scimhub.scim.errors import error_response
from scimhub.scim.messages import SCIM_MEDIA_TYPE, ScimRequest, ScimResponse
from scimhub.scim.routing import Operation, match

_WRITES = {
    Operation.CREATE: "POST",
    Operation.REPLACE: "PUT",
    Operation.PATCH: "PATCH",
    Operation.DELETE: "DELETE",
}
"""What a bulk operation may be: a write on /Users or /Groups (no search, no nested Bulk)."""


class BulkRunner:
    """Run bulk requests through ``handle``, the handler's entry point for one request."""

    def __init__(
        self,
        handle: Callable[[ScimRequest], ScimResponse],
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handle, self._timeout, self._clock = handle, timeout_seconds, clock

    def run(self, request: ScimRequest, bulk: BulkRequest) -> dict[str, Any]:
        """Return the BulkResponse of ``bulk``, sent as ``request`` (whose caller each operation runs as)."""
        deadline = self._clock() + self._timeout
        ids: dict[str, str] = {}
        results: dict[int, dict[str, Any]] = {}
        errors = 0
        for op in plan(bulk.operations):
            if bulk.fail_on_errors is not None and errors >= bulk.fail_on_errors:
                break  # §3.7.3: the operations after the limit are not run, nor answered
            if op.error is None and self._clock() >= deadline:
                late = ServiceUnavailable(
                    f"operation {op.index} was not started: the bulk request ran out of its "
                    f"{self._timeout:g} seconds (SCIMHUB_BULK_TIMEOUT_SECONDS); send it again",
                )
                results[op.index] = _result(op, request.base_url + op.path, error_response(late))
                continue
            location, response = self._run_one(request, op, ids)
            if response.status >= 400:
                errors += 1
            results[op.index] = _result(op, location, response)
        return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}

    def _run_one(
        self, request: ScimRequest, op: BulkOperation, ids: dict[str, str]
    ) -> tuple[str | None, ScimResponse]:
        """Run one operation; return its location and its response, an error one when it could not run."""
        as_sent = request.base_url + op.path if op.path else None
        if op.error is not None:
            return as_sent, error_response(op.error)
        try:
            path, data = resolve(op, ids)
        except KeyError as missing:
            failed = Conflict(
                f"operation {op.index} names bulkId '{missing.args[0]}', whose POST did not succeed"
            )
            return as_sent, error_response(failed)
        location = request.base_url + path
        try:
            operation = match(op.method, path).operation
        except ScimhubError as error:
            return location, error_response(error)
        if _WRITES.get(operation) != op.method:
            refused = InvalidValue(
                f"operation {op.index}: a bulk operation creates, replaces, patches or deletes a resource "
                f"of /Users or /Groups, not {op.method} {op.path}"
            )
            return location, error_response(refused)
        headers = {"content-type": SCIM_MEDIA_TYPE}
        if op.version is not None:
            headers["if-match"] = op.version
        body = b"" if data is None else orjson.dumps(data)
        single = ScimRequest(op.method, path, request.base_url, {}, headers, body, request.actor)
        response = self._handle(single)
        response.close()  # a write's body is read whole; nothing stays open
        if op.method == "POST":
            if response.status != 201 or response.body is None:
                return None, response
            if op.bulk_id is not None:
                ids[op.bulk_id] = response.body["id"]
            return response.headers.get("Location"), response
        return location, response


def _result(op: BulkOperation, location: str | None, response: ScimResponse) -> dict[str, Any]:
    """Return one operation's entry of the BulkResponse (§3.7.3): the body only for an error."""
    result: dict[str, Any] = {"method": op.method}
    if op.bulk_id is not None:
        result["bulkId"] = op.bulk_id
    version = response.headers.get("ETag")
    if version is not None:
        result["version"] = version
    if location is not None and (op.method != "POST" or response.status < 400):
        result["location"] = location
    result["status"] = str(response.status)
    if response.status >= 400:
        result["response"] = response.body
    return result
