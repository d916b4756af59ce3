"""The JSON API checks each call against the very schemas its OpenAPI document shows (ADR 0026).

Each disagreement schemathesis found between the document and the old hand-written
checks is pinned here: the document states the rule, and the check follows it.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from scimhub.directory.actors import Actor
from scimhub.errors import InvalidSyntax, InvalidValue, UnsupportedMediaType
from scimhub.web.api.contract import Contract, is_date, is_date_time
from scimhub.web.api.routing import PREFIX, ApiCall, ApiRoute
from scimhub.web.api.table import ROUTES, SCHEMAS, document
from tests.web.conftest import assert_api_error, documented

CONTRACT = Contract(SCHEMAS)
CALLER = Actor(user_id="u1", urn="urn:li:corpuser:caller")


def route(method: str, path: str) -> ApiRoute:
    return next(r for r in ROUTES if r.method == method and r.path == path)


def query_schema(method: str, path: str, name: str) -> dict[str, Any]:
    """Return a query parameter's schema as the served document shows it."""
    operation = document()["paths"][PREFIX + path][method.lower()]
    found: dict[str, Any] = next(p["schema"] for p in operation["parameters"] if p["name"] == name)
    return found


def checked_query(method: str, path: str, **query: str) -> dict[str, Any]:
    return dict(CONTRACT.check(route(method, path), ApiCall(CALLER, query=query)).query)


def checked_body(body: bytes, content_type: str | None = "application/json") -> dict[str, Any]:
    call = ApiCall(CALLER, body=body, content_type=content_type)
    return dict(CONTRACT.check(route("POST", "/tokens"), call).data or {})


def refused(method: str, path: str, **query: str) -> str:
    with pytest.raises(InvalidValue) as caught:
        checked_query(method, path, **query)
    return str(caught.value)


def test_the_document_shows_the_schemas_the_contract_enforces() -> None:
    """One declaration: each documented query parameter schema is its Param's; the components are SCHEMAS."""
    assert document()["components"]["schemas"] == SCHEMAS
    for r in ROUTES:
        for param in r.params:
            if param.where == "query":
                assert query_schema(r.method, r.path, param.name) == param.schema, (r.path, param.name)


@pytest.mark.parametrize("path", ["/users", "/groups"])
@pytest.mark.parametrize("name", ["start", "count"])
def test_paging_bounds_are_the_documented_ones(path: str, name: str) -> None:
    """start and count take exactly the documented range: its maximum passes, one more is refused (was: 422
    for 10 digits while the document set no maximum)."""
    schema = query_schema("GET", path, name)
    low, high = schema["minimum"], schema["maximum"]
    assert checked_query("GET", path, **{name: str(high)}) == {name: high}
    assert checked_query("GET", path, **{name: str(low)}) == {name: low}
    assert f"from {low} to {high}" in refused("GET", path, **{name: str(high + 1)})
    assert name in refused("GET", path, **{name: str(low - 1)})


@pytest.mark.parametrize("raw", ["x", "1.5", "²", "١٢", " 1", "", "1" * 40])
def test_an_integer_parameter_is_ascii_digits(raw: str) -> None:
    """A whole number is spelled in ASCII digits; anything else is a 422 naming the parameter, never a 500."""
    assert "query parameter count" in refused("GET", "/users", count=raw)


def test_actor_urn_has_the_documented_pattern() -> None:
    """actorUrn, in the query and in the body, is a urn:li:corpuser: URN by the document's pattern (was: any
    string in the document, 422 from the code)."""
    assert query_schema("GET", "/tokens", "actorUrn")["pattern"].startswith("^urn:li:corpuser:")
    assert checked_query("GET", "/tokens", actorUrn="urn:li:corpuser:a%40b") == {
        "actorUrn": "urn:li:corpuser:a%40b"
    }
    for wrong in ("", "urn:li:corpuser:", "urn:li:corpGroup:admins", " urn:li:corpuser:x"):
        assert "urn:li:corpuser: URN" in refused("GET", "/tokens", actorUrn=wrong)
        with pytest.raises(InvalidValue, match="actorUrn must be a urn:li:corpuser: URN"):
            checked_body(b'{"name": "t", "actorUrn": "%s"}' % wrong.encode())


def test_offsets_have_the_documented_form() -> None:
    """before and after are URL-safe base64 of at most 96 characters, as the document says."""
    assert checked_query("GET", "/events", before="MToxOjE") == {"before": "MToxOjE"}
    for wrong in ("", "a/b", "a+b", "a=", "é", "A" * 97):
        assert "query parameter" in refused("GET", "/events", before=wrong)
        assert "query parameter" in refused("GET", "/events", after=wrong)


def test_before_and_after_together_are_one_search() -> None:
    """No rule across parameters that the document cannot state: both together are a window, checked alike."""
    assert checked_query("GET", "/events", before="MToxOjk", after="MToxOjE") == {
        "before": "MToxOjk",
        "after": "MToxOjE",
    }


@pytest.mark.parametrize("name", ["since", "until"])
def test_times_are_rfc3339_date_times_or_dates(name: str) -> None:
    """since/until: an RFC 3339 date-time (T and Z in any case) or a date; empty is refused (was: ignored)."""
    for good in (
        "2026-01-31T12:00:00Z",
        "2026-01-31t12:00:00.123456789z",
        "2026-01-31T12:00:00+05:30",
        "2026-01-31",
    ):
        assert checked_query("GET", "/events", **{name: good}) == {name: good}
    for wrong in (
        "",
        "yesterday",
        "2026-02-30",
        "2026-01-31T12:00",
        "2026-01-31 12:00:00Z",
        "20260131T120000Z",
    ):
        assert "RFC 3339 date-time" in refused("GET", "/events", **{name: wrong})


def test_the_format_checks_name_real_moments() -> None:
    """A date-time must exist (no 29 February 2023, no hour 24), a date too; non-strings are left to type."""
    assert is_date_time("2024-02-29T23:59:59Z") and not is_date_time("2023-02-29T00:00:00Z")
    assert not is_date_time("2026-01-01T24:00:00Z") and not is_date_time("0000-01-01T00:00:00Z")
    assert is_date("2024-02-29") and not is_date("2023-02-29") and not is_date("2024-2-9")
    assert is_date_time(5) and is_date(None)


@pytest.mark.parametrize("field", ["duration", "type", "actorUrn", "name"])
def test_null_is_not_absent(field: str) -> None:
    """Only description may be null; "duration": null and the like are refused (was: read as left out)."""
    body = {"name": "t", field: None}
    with pytest.raises(InvalidValue, match=f"{field} has the wrong type"):
        checked_body(_json(body))
    assert checked_body(b'{"name": "t", "description": null}') == {"name": "t", "description": None}


def test_duration_is_one_of_the_documented_names() -> None:
    """duration is DataHub's AccessTokenDuration, spelled as the document's enum spells it."""
    assert checked_body(b'{"name": "t", "duration": "NO_EXPIRY"}')["duration"] == "NO_EXPIRY"
    for wrong in ("no_expiry", "ONE-DAY", "FOREVER", ""):
        with pytest.raises(InvalidValue, match="duration must be one of ONE_HOUR"):
            checked_body(_json({"name": "t", "duration": wrong}))


@pytest.mark.parametrize("name", ["", " ", "\t\n", "\r\f\v "])
def test_a_blank_name_is_refused_by_the_documented_pattern(name: str) -> None:
    """A token name needs a character besides ASCII white space: the pattern says so and is the check."""
    with pytest.raises(InvalidValue, match="name must be a text with a character other than white space"):
        checked_body(_json({"name": name}))
    assert checked_body(_json({"name": " x "})) == {"name": " x "}


def test_bodies_are_json_objects_of_the_documented_fields() -> None:
    """Media type 415, unreadable 400, unknown field and missing name 422: each detail names the fault."""
    with pytest.raises(UnsupportedMediaType):
        checked_body(b"{}", "text/plain")
    with pytest.raises(InvalidSyntax):
        checked_body(b'{"name": ')
    with pytest.raises(InvalidSyntax, match="JSON object"):
        checked_body(b'["name"]')
    with pytest.raises(InvalidValue, match="unknown field.*'expires'"):
        checked_body(b'{"name": "t", "expires": "ONE_DAY"}')
    with pytest.raises(InvalidValue, match="lacks a required field: 'name'"):
        checked_body(b"{}")


def test_undeclared_query_parameters_are_dropped() -> None:
    """An operation sees only what the document declares: other query parameters never reach it."""
    assert checked_query("GET", "/users", start="1", sort="x") == {"start": 1}


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/users", {"count": "1000000000"}, "count"),
        ("/groups", {"start": "-1"}, "start"),
        ("/tokens", {"actorUrn": ""}, "actorUrn"),
        ("/events", {"until": ""}, "until"),
        ("/events", {"before": "a/b"}, "before"),
    ],
)
def test_the_server_answers_the_contract_with_documented_422s(
    api: httpx.Client, path: str, params: dict[str, str], named: str
) -> None:
    """Over HTTP, both engines: a documented 422 in the API's error shape, naming the parameter."""
    response = api.get(path, params=params)
    body = assert_api_error(response, 422, "invalidValue")
    assert f"query parameter {named}" in body["detail"]
    documented("GET", path, response)


def test_a_null_duration_is_refused_over_http(api: httpx.Client) -> None:
    """POST /tokens with "duration": null is a 422, not a token of the default duration."""
    response = api.post("/tokens", json={"name": "t", "duration": None})
    assert_api_error(response, 422, "invalidValue", "duration has the wrong type: must be a string, not null")
    documented("POST", "/tokens", response)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)
