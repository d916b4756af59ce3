"""The HTTP status of every error in ``scimhub.errors``: one table for every HTTP adapter.

SCIM (``scim/errors.py``) and the JSON API (``web/api/errors.py``) both answer
over HTTP, so they share the status, the error's kind and the headers; each
then renders its own body. A kind is the RFC 7644 §3.12 ``scimType`` where the
RFC names one, and the error class's name in lower camel case otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from scimhub import errors

_TABLE: tuple[tuple[type[errors.ScimhubError], int, str], ...] = (
    (errors.InvalidSyntax, 400, "invalidSyntax"),
    (errors.InvalidFilter, 400, "invalidFilter"),
    (errors.InvalidPath, 400, "invalidPath"),
    (errors.NoTarget, 400, "noTarget"),
    (errors.Mutability, 400, "mutability"),
    (errors.TooMany, 400, "tooMany"),
    (errors.InvalidCursor, 400, "invalidCursor"),
    (errors.ExpiredCursor, 400, "expiredCursor"),
    (errors.InvalidCount, 400, "invalidCount"),
    (errors.InvalidInput, 400, "invalidValue"),
    (errors.Unauthorized, 401, "unauthorized"),
    (errors.Forbidden, 403, "forbidden"),
    (errors.NotFound, 404, "notFound"),
    (errors.MethodNotAllowed, 405, "methodNotAllowed"),
    (errors.Uniqueness, 409, "uniqueness"),
    (errors.Conflict, 409, "conflict"),
    (errors.PreconditionFailed, 412, "preconditionFailed"),
    (errors.PayloadTooLarge, 413, "payloadTooLarge"),
    (errors.RequestTimeout, 408, "requestTimeout"),
    (errors.UnsupportedMediaType, 415, "unsupportedMediaType"),
    (errors.TooManyRequests, 429, "tooManyRequests"),
    (errors.ServiceUnavailable, 503, "serviceUnavailable"),
)
"""Most specific first: the first class an error is an instance of decides."""

KINDS = tuple(dict.fromkeys(kind for _, _, kind in _TABLE)) + ("internal",)
"""Every kind an error can have, ``internal`` (500) last."""

BEARER_CHALLENGE = 'Bearer realm="scimhub", error="invalid_token"'
"""The ``WWW-Authenticate`` value of a 401 (RFC 6750 §3)."""


@dataclass(frozen=True)
class ErrorStatus:
    """How an error is answered over HTTP, whatever the body looks like."""

    status: int
    kind: str
    detail: str
    """Safe to show: the error's own detail, or "Internal server error" for anything unexpected."""
    headers: dict[str, str] = field(default_factory=dict)


def classify(error: Exception, log: logging.Logger) -> ErrorStatus:
    """Return the status, kind, detail and headers of ``error``, and log it.

    Errors of the tree in ``scimhub.errors`` are the client's and are logged at INFO
    without a traceback, except ``ServiceUnavailable`` (503), logged once per outage
    by the engine rather than once per request; anything else is ours: logged with
    its traceback and answered with a 500 that reveals nothing.
    """
    for kind_of, status, kind in _TABLE:
        if isinstance(error, kind_of):
            detail = error.detail
            if status < 500:
                log.info("client error %s %s: %s", status, kind, detail)
            # A 503 is logged once per outage where it is detected (store/sql/engine.py), not per request.
            return ErrorStatus(status, kind, detail, _headers(error))
    log.exception("internal error while serving a request", exc_info=error)
    return ErrorStatus(500, "internal", "Internal server error")


def _headers(error: Exception) -> dict[str, str]:
    if isinstance(error, errors.Unauthorized):
        return {"WWW-Authenticate": BEARER_CHALLENGE}
    if isinstance(error, errors.MethodNotAllowed):
        return {"Allow": ", ".join(error.allowed)}
    if isinstance(error, errors.RetryLater):
        return {"Retry-After": str(error.retry_after)}  # delay-seconds, RFC 9110 §10.2.3
    if isinstance(error, errors.RequestTimeout):
        return {"Connection": "close"}  # the rest of the body may still be on its way
    return {}
