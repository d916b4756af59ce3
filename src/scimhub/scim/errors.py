"""Errors as RFC 7644 §3.12 Error messages: one table from error class to status and scimType."""

from __future__ import annotations

import logging

from scimhub import errors
from scimhub.scim.messages import ScimResponse
from scimhub.scim.schema import ERROR

log = logging.getLogger("scimhub.scim")

_TABLE: tuple[tuple[type[errors.ScimhubError], int, str | None], ...] = (
    (errors.InvalidSyntax, 400, "invalidSyntax"),
    (errors.InvalidFilter, 400, "invalidFilter"),
    (errors.InvalidPath, 400, "invalidPath"),
    (errors.NoTarget, 400, "noTarget"),
    (errors.Mutability, 400, "mutability"),
    (errors.TooMany, 400, "tooMany"),
    (errors.InvalidValue, 400, "invalidValue"),
    (errors.InvalidInput, 400, "invalidValue"),
    (errors.Unauthorized, 401, None),
    (errors.Forbidden, 403, None),
    (errors.NotFound, 404, None),
    (errors.MethodNotAllowed, 405, None),
    (errors.Uniqueness, 409, "uniqueness"),
    (errors.Conflict, 409, None),
    (errors.PreconditionFailed, 412, None),
    (errors.PayloadTooLarge, 413, None),
    (errors.UnsupportedMediaType, 415, None),
)
"""Most specific first: the first class an error is an instance of decides."""


def error_message(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    """Return an Error message; ``status`` is a string, as in RFC 7644 §3.12's examples."""
    message: dict[str, object] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type is not None:
        message["scimType"] = scim_type
    return message


def error_response(error: Exception) -> ScimResponse:
    """Return the response for ``error``.

    Errors of the tree in ``scimhub.errors`` are the client's and are logged at INFO
    without a traceback; anything else is ours: logged with its traceback and
    answered with a 500 that reveals nothing.
    """
    for kind, status, scim_type in _TABLE:
        if isinstance(error, kind):
            detail = error.detail  # type: ignore[attr-defined]
            log.info("scim error %s %s: %s", status, scim_type or "-", detail)
            headers = {}
            if isinstance(error, errors.Unauthorized):
                headers["WWW-Authenticate"] = 'Bearer realm="scimhub", error="invalid_token"'
            elif isinstance(error, errors.MethodNotAllowed):
                headers["Allow"] = ", ".join(error.allowed)
            return ScimResponse(status, error_message(status, detail, scim_type), headers)
    log.exception("internal error while serving a SCIM request", exc_info=error)
    return ScimResponse(500, error_message(500, "Internal server error"))
