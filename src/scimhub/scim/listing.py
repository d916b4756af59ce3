"""The ListResponse message that every query answers with (RFC 7644 §3.4.2).

Searches (``GET /Users``, ``POST /.search``) and the discovery lists (``/Schemas``,
``/ResourceTypes``, RFC 7644 §4) share it, so it lives apart from both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scimhub.query.schema import LIST_RESPONSE


def list_response(resources: Sequence[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """Return a ListResponse holding one page of ``resources`` (RFC 7644 §3.4.2).

    ``total`` is the number of results the whole query matched and ``start_index``
    the 1-based index of the first resource of this page (§3.4.2.4), as the client
    asked for it or as the server clamped it. ``itemsPerPage`` is the size of this
    page. ``Resources`` is present even when empty: §3.4.2 only requires it when
    ``totalResults`` is non-zero, but Entra's probes expect ``"Resources": []`` for
    a query that matches nothing.

    :raises ValueError: When ``total`` is negative, smaller than the page, or when
        ``start_index`` is below 1; these are programming errors, not bad input.
    """
    if start_index < 1:
        raise ValueError(f"start_index is 1-based, got {start_index}")
    if total < len(resources):
        raise ValueError(f"total {total} is smaller than the {len(resources)} resources of the page")
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": list(resources),
    }
