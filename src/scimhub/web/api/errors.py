"""Errors of the JSON API: ``{"status", "error", "detail"}`` bodies from the shared status table.

The status and the kind come from ``scimhub.statuses`` (SCIM uses the same
table), with one difference of protocol: RFC 7644 answers every bad value with
400, while this API keeps 400 for a body it cannot read and answers a request
it read but whose values are wrong with 422 (RFC 9110 §15.5.21).
"""

from __future__ import annotations

import logging

from scimhub.errors import InvalidInput, InvalidSyntax
from scimhub.statuses import KINDS, classify
from scimhub.web.api.routing import Reply
from scimhub.web.api.schemas import STRING, Schema, enum, obj

log = logging.getLogger("scimhub.api")

ERROR_SCHEMA: Schema = obj(
    {
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "error": enum(KINDS),
        "detail": STRING,
    },
    description="Every error: the HTTP status again, a stable kind for programs, a detail for people.",
    additionalProperties=False,
)


def error_reply(error: Exception) -> Reply:
    """Return the reply for ``error``: a 4xx for the client's errors, a bare 500 for ours."""
    answer = classify(error, log)
    status = answer.status
    if isinstance(error, InvalidInput) and not isinstance(error, InvalidSyntax):
        status = 422
    return Reply(status, {"status": status, "error": answer.kind, "detail": answer.detail}, answer.headers)
