"""The orders the Users list offers: those the store reads from an index (ADR 0017).

displayName has no index, so it is not offered.
"""

from __future__ import annotations

SORTS = {"userName": "userName", "created": "meta.created", "lastModified": "meta.lastModified"}
"""The list's name of each order, and the attribute it sorts by."""
