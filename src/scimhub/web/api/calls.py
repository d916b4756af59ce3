"""The ``start``/``count`` paging of list endpoints: declared once, documented and checked from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scimhub.web.api.routing import ApiCall, Param
from scimhub.web.api.schemas import MAX_WHOLE

_WHOLE = {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE}

PAGE_PARAMS = (
    Param("start", "Zero-based index of the first item (DataHub's `start`).", "query", _WHOLE),
    Param(
        "count",
        "How many items at most; the server's default page size if absent, lowered to its maximum"
        " (SCIMHUB_MAX_PAGE_SIZE).",
        "query",
        _WHOLE,
    ),
)


@dataclass(frozen=True)
class Paging:
    """The page a list call asks for."""

    start: int
    count: int


def read_paging(call: ApiCall, default_count: int, max_count: int) -> Paging:
    """Return ``start`` and ``count`` of a checked call (``PAGE_PARAMS``), ``count`` at most ``max_count``."""
    return Paging(call.query.get("start", 0), min(call.query.get("count", default_count), max_count))


def page_body(paging: Paging, total: int, key: str, items: list[Any]) -> dict[str, Any]:
    """Return a page as DataHub's list results carry it: ``start``, ``count``, ``total`` and the items."""
    return {"start": paging.start, "count": len(items), "total": total, key: items}
