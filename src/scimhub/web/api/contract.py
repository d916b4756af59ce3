"""Checking a call against the route table: the JSON Schemas the OpenAPI document shows are the ones enforced.

ADR 0026: a route's query parameters and body are declared once (``Param.schema``
and a component schema, ``routing.py``); ``openapi.py`` writes them into
``/api/v1/openapi.json`` and this module validates every call against the very
same schemas (JSON Schema 2020-12, with ``jsonschema``) before the operation
runs. The document and the validation cannot drift apart, and an operation sees
only values the document promises: declared query parameters, typed (integers
as ``int``), and a body of the declared shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidSyntax, InvalidValue, UnsupportedMediaType
from scimhub.web.api.routing import ApiCall, ApiRoute, Param
from scimhub.web.api.schemas import FORMAT_MEANINGS, PATTERN_MEANINGS

_INTEGER = re.compile(r"-?[0-9]{1,30}")
"""How an integer query parameter is spelled; longer numbers are out of every declared range anyway."""
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})",
    re.IGNORECASE,
)
"""RFC 3339 §5.6 ``date-time``, JSON Schema's ``date-time`` format (``T`` and ``Z`` in any case)."""
_SHOWN = 60
"""How many characters of a refused value a detail quotes."""

FORMATS = FormatChecker(formats=())
"""The formats the document uses, checked (``jsonschema`` leaves ``date-time`` unchecked without extras)."""


@FORMATS.checks("date-time")
def is_date_time(text: object) -> bool:
    """Tell whether ``text`` is an RFC 3339 date-time that names a real moment (not 2026-02-30)."""
    if not isinstance(text, str):
        return True  # formats constrain strings only; "type" speaks for the rest
    if _DATE_TIME.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text.upper())
    except ValueError:
        return False
    return True


@FORMATS.checks("date")
def is_date(text: object) -> bool:
    """Tell whether ``text`` is an RFC 3339 ``full-date`` (YYYY-MM-DD) that exists."""
    if not isinstance(text, str):
        return True
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is None:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class Contract:
    """Validate calls against the declared schemas; ``components`` resolve their ``$ref``s."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self._components = {"schemas": dict(components)}
        self._validator = cache(self._make_validator)

    def _make_validator(self, schema_json: bytes) -> Draft202012Validator:
        # The document's own layout, so that "#/components/schemas/…" resolves as it does there.
        schema = {**orjson.loads(schema_json), "components": self._components}
        return Draft202012Validator(schema, format_checker=FORMATS)

    def _errors(self, schema: Mapping[str, Any], value: Any) -> ValidationError | None:
        validator = self._validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
        return next(iter(sorted(validator.iter_errors(value), key=_depth)), None)

    def check(self, route: ApiRoute, call: ApiCall) -> ApiCall:
        """Return ``call`` with its declared query parameters typed and checked, and its body read.

        :raises UnsupportedMediaType: When a body is not ``application/json``.
        :raises InvalidSyntax: When a body is not a well-formed JSON object.
        :raises InvalidValue: When a parameter or a body field breaks its schema, or any text of the
            call holds a NUL, which PostgreSQL cannot store (ADR 0021); the detail names it.
        """
        for where, params in (("path", call.path), ("query", call.query)):
            for name, value in params.items():
                check_no_nul(name, f"a {where} parameter name")
                check_no_nul(value, f"{where} parameter {name}")
        query = {
            param.name: self._parameter(param, call.query[param.name])
            for param in route.params
            if param.where == "query" and param.name in call.query
        }
        data = self._body(route.body, call) if route.body is not None else None
        return replace(call, query=query, data=data)

    def _parameter(self, param: Param, raw: str) -> Any:
        value: Any = raw
        if param.schema.get("type") == "integer" and _INTEGER.fullmatch(raw):
            value = int(raw)
        error = self._errors(param.schema, value)
        if error is not None:
            raise InvalidValue(_detail(error, f"query parameter {param.name}", raw))
        return value

    def _body(self, component: str, call: ApiCall) -> dict[str, Any]:
        media_type = (call.content_type or "application/json").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaType(f"send the body as application/json, not {media_type[:_SHOWN]}")
        try:
            body = orjson.loads(call.body)
        except orjson.JSONDecodeError as error:
            raise InvalidSyntax(f"the request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise InvalidSyntax("the request body must be a JSON object")
        invalid = self._errors({"$ref": f"#/components/schemas/{component}"}, body)
        if invalid is not None:
            field = ".".join(str(part) for part in invalid.absolute_path) or "the body"
            raise InvalidValue(_detail(invalid, field, invalid.instance))
        for name, value in body.items():  # the schemas are flat: strings, or lists of strings
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    check_no_nul(text, name)  # text PostgreSQL cannot store (ADR 0021)
        return body


def _depth(error: ValidationError) -> tuple[int, str]:
    """Order errors outermost first (an unknown field before its value), then by field, for stable details."""
    return len(error.absolute_path), str(list(error.absolute_path))


def _detail(error: ValidationError, where: str, value: Any) -> str:
    """Return a precise detail for a schema violation: what is wrong with which value, and what is allowed."""
    # Only a boolean schema (``false``) fails with no object to read; the document has none.
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    shown = _quote(value)
    keyword = error.validator
    if keyword == "type":
        expected = schema["type"]
        return f"{where} has the wrong type: must be {_either(expected)}, not {shown}"
    if keyword in ("enum", "const"):
        allowed = schema["enum"] if keyword == "enum" else [schema["const"]]
        return f"{where} must be one of {', '.join(str(a) for a in allowed)}, not {shown}"
    if keyword in ("minimum", "maximum"):
        return f"{where} must be {_range(schema)}, not {shown}"
    if keyword in ("minLength", "maxLength"):
        return f"{where} must be {_length(schema)}, not {shown}"
    if keyword == "required":
        return f"{where} lacks a required field: {error.message.split(' ')[0]}"
    if keyword == "additionalProperties":
        fields = error.instance if isinstance(error.instance, Mapping) else {}  # the object checked
        unknown = sorted(set(fields) - set(schema.get("properties", {})))
        return (
            f"{where} has unknown field(s) {', '.join(_quote(u) for u in unknown)};"
            f" the fields are {', '.join(schema.get('properties', {}))}"
        )
    if keyword == "pattern":
        meaning = PATTERN_MEANINGS.get(schema["pattern"], f"of the form {schema['pattern']}")
        return f"{where} must be {meaning}, not {shown}"
    formats = [s["format"] for s in schema.get("anyOf", [schema]) if "format" in s]
    described = " or ".join(FORMAT_MEANINGS.get(f, f) for f in formats) or f"as {where} is documented"
    return f"{where} must be {described}, not {shown}"


def _quote(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _either(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(_ARTICLES.get(n, n) for n in names)


_ARTICLES = {"integer": "an integer", "string": "a string", "object": "an object", "array": "an array"}


def _range(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"a whole number from {low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _length(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if high is None:
        return f"at least {low} character(s) long"
    return f"from {low or 0} to {high} characters long"
