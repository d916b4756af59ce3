"""The shared status table: every error of the tree has its status, SCIM and the JSON API agree on it."""

from __future__ import annotations

import logging

import pytest

from scimhub import errors
from scimhub.scim.errors import error_response
from scimhub.statuses import BEARER_CHALLENGE, KINDS, classify
from scimhub.web.api.errors import error_reply

log = logging.getLogger("tests")


def _tree(root: type[errors.ScimhubError]) -> list[type[errors.ScimhubError]]:
    found = [root]
    for sub in root.__subclasses__():
        found += _tree(sub)
    return found


def _instance(kind: type[errors.ScimhubError]) -> errors.ScimhubError:
    if kind is errors.MethodNotAllowed:
        return errors.MethodNotAllowed("no", ("GET",))
    if kind in (errors.RetryLater, errors.TooManyRequests):
        return kind("slow down", 7)
    return kind("why")


_NOT_THE_CLIENTS = (errors.ScimhubError, errors.RetryLater)
"""The root and the abstract "retry later"; with the database's 503s (``ServiceUnavailable`` and the
store's own kinds of it, such as a lock not had in time), every other class is a client error."""


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in _tree(errors.ScimhubError)
        if k not in _NOT_THE_CLIENTS and not issubclass(k, errors.ServiceUnavailable)
    ],
)
def test_every_error_class_is_a_client_error(kind: type[errors.ScimhubError]) -> None:
    """No error of the tree falls through to 500: each has a 4xx and a kind (but the database's 503)."""
    answer = classify(_instance(kind), log)
    assert 400 <= answer.status < 500 and answer.kind in KINDS and answer.detail == _instance(kind).detail


def test_anything_else_is_a_bare_500(caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected exception is a 500 that reveals nothing, logged with its traceback."""
    answer = classify(KeyError("secret"), log)
    assert (answer.status, answer.kind, answer.detail) == (500, "internal", "Internal server error")
    assert caplog.records[-1].exc_info is not None


def test_scim_and_the_api_share_statuses_but_not_the_422() -> None:
    """SCIM answers a bad value 400 invalidValue (RFC 7644); the API 422; a syntax error is 400 in both."""
    bad_value, bad_syntax = errors.InvalidValue("v"), errors.InvalidSyntax("s")
    assert error_response(bad_value).status == 400 and error_reply(bad_value).status == 422
    assert error_response(bad_syntax).status == 400 and error_reply(bad_syntax).status == 400
    assert error_reply(errors.InvalidFilter("f")).body == {
        "status": 422,
        "error": "invalidFilter",
        "detail": "f",
    }
    assert error_response(errors.Uniqueness("u")).body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "detail": "u",
        "scimType": "uniqueness",
    }
    assert "scimType" not in (error_response(errors.Forbidden("f")).body or {})


def test_a_401_challenges_for_a_bearer_token_in_both() -> None:
    """Both adapters send WWW-Authenticate: Bearer with a 401 (RFC 6750 §3)."""
    refused = errors.Unauthorized("no")
    assert (
        error_response(refused).headers
        == error_reply(refused).headers
        == {"WWW-Authenticate": BEARER_CHALLENGE}
    )


def test_an_unavailable_database_is_a_503_with_retry_after_in_both(caplog: pytest.LogCaptureFixture) -> None:
    """ServiceUnavailable is 503 + Retry-After (RFC 9110 §15.6.4) in both, without a log line per request."""
    away = errors.ServiceUnavailable("the database is unavailable", 5)
    caplog.set_level(logging.DEBUG, logger="tests")
    assert classify(away, log).status == 503 and caplog.records == []
    assert error_response(away).status == error_reply(away).status == 503
    assert error_response(away).headers == error_reply(away).headers == {"Retry-After": "5"}
    assert "scimType" not in (error_response(away).body or {})


def test_a_429_says_when_to_retry_in_both_shapes() -> None:
    """A rate limit's refusal is 429 with Retry-After in seconds (RFC 6585 §4); SCIM gives it no scimType."""
    refused = errors.TooManyRequests("slow down", 7)
    scim, api = error_response(refused), error_reply(refused)
    assert scim.status == api.status == 429
    assert scim.headers == api.headers == {"Retry-After": "7"}
    assert scim.body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "429",
        "detail": "slow down",
    }
    assert api.body == {"status": 429, "error": "tooManyRequests", "detail": "slow down"}


def test_an_unauthorized_error_names_its_reason() -> None:
    """Unauthorized carries a reason for the metrics and the failure throttle; ``invalid`` by default."""
    assert errors.Unauthorized("x").reason == "invalid"
    assert errors.Unauthorized("x", "expired").reason == "expired"
