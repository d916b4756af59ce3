"""Errors as RFC 7644 §3.12 Error messages; the status comes from the shared table in ``statuses``."""

from __future__ import annotations

import logging

from scimhub.query.schema import ERROR
from scimhub.scim.messages import ScimResponse
from scimhub.statuses import classify

log = logging.getLogger("scimhub.scim")

SCIM_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        # RFC 9865 §2.2 adds these three for cursor paging.
        "invalidCursor",
        "expiredCursor",
        "invalidCount",
    }
)
"""The ``scimType`` values of RFC 7644 §3.12 Table 9 (and RFC 9865 §2.2) this server uses; other kinds
carry none."""


def error_message(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    """Return an Error message; ``status`` is a string, as in RFC 7644 §3.12's examples."""
    message: dict[str, object] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type is not None:
        message["scimType"] = scim_type
    return message


def error_response(error: Exception) -> ScimResponse:
    """Return the response for ``error``: a 4xx for the client's errors, a bare 500 for ours."""
    answer = classify(error, log)
    scim_type = answer.kind if answer.kind in SCIM_TYPES else None
    return ScimResponse(answer.status, error_message(answer.status, answer.detail, scim_type), answer.headers)
