"""Search parameters (RFC 7644 §3.4.2, §3.4.3) → a store ``Query``.

The same parameters arrive two ways: in the query string of ``GET /Users`` and in
the body of ``POST /Users/.search``. Both are read into ``SearchParams`` first, so
one piece of code turns them into a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scimhub.errors import InvalidCursor, InvalidFilter, InvalidSyntax, InvalidValue
from scimhub.query.filter.parser import parse_filter
from scimhub.query.filter.tree import MAX_LENGTH
from scimhub.query.pages import Query
from scimhub.query.paths import resolve
from scimhub.query.schema import SEARCH_REQUEST, ResourceType
from scimhub.scim.messages import ScimRequest

_MAX_START_INDEX = 2**31 - 1


@dataclass(frozen=True)
class SearchParams:
    """What a client asked of a search, before it is checked against a resource type."""

    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    """1-based, already clamped to at least 1 (§3.4.2.4)."""
    count: int | None = None
    """None: the server's default page size."""
    attributes: str | None = None
    excluded_attributes: str | None = None
    cursor: str | None = None
    """RFC 9865's ``cursor``: None pages by ``startIndex``; empty asks for the first cursor page."""


def _integer(name: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidValue(f"{name} must be an integer")
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, not {raw!r}") from None
    return max(min(value, _MAX_START_INDEX), -1)


def _descending(raw: object) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, str) or raw.lower() not in ("ascending", "descending"):
        raise InvalidValue(f"sortOrder must be 'ascending' or 'descending', not {raw!r}")
    return raw.lower() == "descending"


def _text(name: str, raw: object) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if name.endswith("ttributes") and isinstance(raw, list) and all(isinstance(a, str) for a in raw):
        return ",".join(raw)  # the body form (§3.4.3) takes a list, the query form a comma list
    raise InvalidValue(f"{name} must be a string")


def _cursor(raw: object, start: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidCursor(
            "cursor must be a string: empty for the first page, else a nextCursor or previousCursor"
        )
    if start is not None:
        raise InvalidValue("send startIndex or cursor, not both: they are two ways of paging (RFC 9865 §2.4)")
    return raw


def _params(get: Any) -> SearchParams:
    start = get("startIndex")
    count = get("count")
    return SearchParams(
        filter=_text("filter", get("filter")),
        sort_by=_text("sortBy", get("sortBy")),
        descending=_descending(get("sortOrder")),
        start_index=max(_integer("startIndex", start), 1) if start is not None else 1,
        count=max(_integer("count", count), 0) if count is not None else None,
        attributes=_text("attributes", get("attributes")),
        excluded_attributes=_text("excludedAttributes", get("excludedAttributes")),
        cursor=_cursor(get("cursor"), start),
    )


def read_query_params(request: ScimRequest) -> SearchParams:
    """Return the search parameters of a GET's query string (names in any case)."""
    return _params(request.param)


def read_search_body(body: object) -> SearchParams:
    """Return the search parameters of a ``SearchRequest`` body (§3.4.3).

    :raises InvalidSyntax: When the body is not a JSON object.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("a search request must be a JSON object")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST not in schemas):
        raise InvalidValue(f"a search request's schemas must contain {SEARCH_REQUEST}")
    lowered = {k.lower(): v for k, v in body.items()}
    return _params(lambda name: lowered.get(name.lower()))


def build_query(
    resource_type: ResourceType, params: SearchParams, default_count: int, max_count: int
) -> Query:
    """Return the store query for ``params`` on ``resource_type``.

    ``count`` above ``max_count`` is lowered to it (§3.4.2.4 lets the server return
    fewer results than asked for; ``itemsPerPage`` tells the client).

    :raises InvalidFilter: When the filter does not parse or names no attribute.
    :raises InvalidValue: When sortBy names no attribute or is longer than a filter may be.
    """
    if params.filter is not None and not params.filter.strip():
        raise InvalidFilter("the filter is empty")
    parsed = parse_filter(resource_type, params.filter) if params.filter is not None else None
    if params.sort_by is not None and len(params.sort_by) > MAX_LENGTH:
        raise InvalidValue(f"sortBy is longer than {MAX_LENGTH} characters")
    sort_by = resolve(resource_type, params.sort_by, InvalidValue) if params.sort_by else None
    if sort_by is not None and sort_by.target.is_complex:
        raise InvalidValue(f"cannot sort by the complex attribute '{params.sort_by}'; name a sub-attribute")
    count = default_count if params.count is None else min(params.count, max_count)
    return Query(parsed, sort_by, params.descending, params.start_index - 1, count)
