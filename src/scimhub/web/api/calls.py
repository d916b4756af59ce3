"""Reading a call's input: JSON object bodies, and the ``start``/``count`` paging of list endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidSyntax, InvalidValue, UnsupportedMediaType
from scimhub.web.api.routing import ApiCall, Param

PAGE_PARAMS = (
    Param(
        "start",
        "Zero-based index of the first item (DataHub's `start`).",
        "query",
        {"type": "integer", "minimum": 0},
    ),
    Param(
        "count",
        "How many items at most; the server's default page size if absent, lowered to its maximum"
        " (SCIMHUB_MAX_PAGE_SIZE).",
        "query",
        {"type": "integer", "minimum": 0},
    ),
)


def read_object(call: ApiCall, fields: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Return the JSON object body of ``call``, checking each field's type.

    :raises UnsupportedMediaType: When the Content-Type is not ``application/json``.
    :raises InvalidSyntax: When the body is not a well-formed JSON object.
    :raises InvalidValue: When it has a field not in ``fields``, one of the wrong type, or
        a string holding a NUL (ADR 0021).
    """
    media_type = (call.content_type or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json, not {media_type}")
    try:
        body = orjson.loads(call.body)
    except orjson.JSONDecodeError as error:
        raise InvalidSyntax(f"the request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidValue(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(fields)}")
    for name, value in body.items():
        if value is not None and not isinstance(value, fields[name]):
            raise InvalidValue(f"{name} has the wrong type: {type(value).__name__}")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                check_no_nul(text, name)
    return body


def check_call_text(call: ApiCall) -> None:
    """Refuse a NUL in a path or query parameter before an operation reads it (ADR 0021).

    :raises InvalidValue: Naming the parameter.
    """
    for where, params in (("path", call.path), ("query", call.query)):
        for name, value in params.items():
            check_no_nul(name, f"a {where} parameter name")
            check_no_nul(value, f"{where} parameter {name}")


@dataclass(frozen=True)
class Paging:
    """The page a list call asks for."""

    start: int
    count: int


def read_paging(call: ApiCall, default_count: int, max_count: int) -> Paging:
    """Return ``start`` and ``count`` from the query string; ``count`` is lowered to ``max_count``.

    :raises InvalidValue: When either is not a whole number of at least 0.
    """
    start = _natural(call.query, "start", 0)
    count = _natural(call.query, "count", default_count)
    return Paging(start, min(count, max_count))


def _natural(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise InvalidValue(f"{name} must be a whole number from 0 to 999999999, not {raw!r}")
    return int(raw)


def page_body(paging: Paging, total: int, key: str, items: list[Any]) -> dict[str, Any]:
    """Return a page as DataHub's list results carry it: ``start``, ``count``, ``total`` and the items."""
    return {"start": paging.start, "count": len(items), "total": total, key: items}
