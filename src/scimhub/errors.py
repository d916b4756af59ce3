"""The errors scimhub raises, independent of any protocol.

The tree, in the manner of httpx's exception module::

    ScimhubError
    ├── InvalidInput ............ the request can never succeed as written
    │   ├── InvalidSyntax         the body is not a well-formed message
    │   ├── InvalidValue          a value has the wrong type, range or form
    │   ├── InvalidFilter         a filter does not parse or names what cannot be filtered
    │   ├── InvalidPath           a PATCH path does not parse or names nothing
    │   ├── NoTarget              a PATCH path matched nothing it could act on
    │   ├── Mutability            the request changes what may not change
    │   ├── TooMany               the request asks for more than the server answers at once
    │   ├── InvalidCursor         a paging cursor is not one this server issued for the query
    │   ├── ExpiredCursor         a paging cursor was issued too long ago
    │   └── InvalidCount          a cursor page asks for fewer than one result
    ├── Unauthorized ............ no valid credentials
    ├── Forbidden ............... valid credentials, missing privilege
    ├── NotFound ................ no such resource
    ├── MethodNotAllowed ........ the resource exists but not this verb
    ├── Conflict ................ the change clashes with stored state
    │   └── Uniqueness            a value that must be unique is taken
    ├── PreconditionFailed ...... If-Match or If-None-Match excludes the stored version
    ├── PayloadTooLarge ......... the body exceeds the configured limit
    ├── RequestTimeout .......... the body did not arrive in time
    ├── UnsupportedMediaType .... the body is not JSON
    └── RetryLater .............. the request may succeed as it is, later (Retry-After)
        ├── TooManyRequests       a rate limit refuses it for now
        └── ServiceUnavailable    the database is away

Each adapter maps this tree once: ``statuses.py`` to an HTTP status (for SCIM and the
JSON API alike), ``scim/errors.py`` to ``scimType``,
the CLI to an exit code. Messages in ``detail`` are written for the person reading a
provisioning log, so they name the attribute, path or value at fault.
"""

from __future__ import annotations


class ScimhubError(Exception):
    """The root of every error scimhub raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ScimhubError):
    """The request can never succeed as written."""


class InvalidSyntax(InvalidInput):
    """The body is not a well-formed message (RFC 7644 §3.12 ``invalidSyntax``)."""


class InvalidValue(InvalidInput):
    """A value has the wrong type, range or form (``invalidValue``)."""


class InvalidFilter(InvalidInput):
    """A filter does not parse or cannot be evaluated (``invalidFilter``)."""


class InvalidPath(InvalidInput):
    """A PATCH path does not parse or names no attribute (``invalidPath``)."""


class NoTarget(InvalidInput):
    """A PATCH path matched nothing that the operation needs (``noTarget``)."""


class Mutability(InvalidInput):
    """The request changes an attribute whose mutability forbids it (``mutability``)."""


class TooMany(InvalidInput):
    """The request asks for more results than the server returns (``tooMany``)."""


class InvalidCursor(InvalidInput):
    """A paging cursor is malformed, altered, or issued for another query (RFC 9865 ``invalidCursor``)."""


class ExpiredCursor(InvalidInput):
    """A paging cursor is older than the cursor timeout (RFC 9865 ``expiredCursor``)."""


class InvalidCount(InvalidInput):
    """A cursor page's ``count`` is not a positive integer (RFC 9865 ``invalidCount``)."""


class Unauthorized(ScimhubError):
    """No valid credentials were presented; ``reason`` says which way, for metrics and throttling."""

    def __init__(self, detail: str, reason: str = "invalid") -> None:
        super().__init__(detail)
        self.reason = reason
        """``missing``, ``malformed``, ``revoked``, ``expired``, ``suspended`` or ``invalid``."""


class Forbidden(ScimhubError):
    """The credentials are valid but lack the privilege the operation needs."""


class NotFound(ScimhubError):
    """No resource answers to that identifier or path."""


class MethodNotAllowed(ScimhubError):
    """The resource exists but does not support this method."""

    def __init__(self, detail: str, allowed: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.allowed = allowed


class Conflict(ScimhubError):
    """The change clashes with the stored state."""


class Uniqueness(Conflict):
    """A value that must be unique is already taken (``uniqueness``)."""


class PreconditionFailed(ScimhubError):
    """The stored version is not one ``If-Match`` names, or is one ``If-None-Match`` names."""


class PayloadTooLarge(ScimhubError):
    """The request body is larger than the configured limit."""


class RequestTimeout(ScimhubError):
    """The client did not send the whole request body in the time allowed (RFC 9110 §15.5.9)."""


class UnsupportedMediaType(ScimhubError):
    """The request body is not in a media type the endpoint accepts."""


class RetryLater(ScimhubError):
    """The request may succeed as it is in ``retry_after`` seconds.

    Answered with ``Retry-After`` (RFC 9110 §10.2.3, delay-seconds).
    """

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """A rate limit refuses the request for now (RFC 6585 §4)."""


class ServiceUnavailable(RetryLater):
    """The database cannot be reached or stays locked (RFC 9110 §15.6.4).

    Not the client's fault and not a bug: the request may succeed as it is once
    the database is back, so it is answered 503 with ``Retry-After``, never 500.
    """

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after)
