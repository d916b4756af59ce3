"""ETags and conditional requests (RFC 7644 §3.14, RFC 9110 §13).

A resource's ETag is ``W/"<version>"``, its version a counter bumped on every
change. RFC 9110 §13.1.1 compares ``If-Match`` strongly, which would never match
the weak ETags RFC 7644 §3.14 recommends, so both headers compare weakly.
"""

from __future__ import annotations

import re

_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def etag(version: int) -> str:
    """Return the ETag of a resource at ``version``."""
    return f'W/"{version}"'


def read_versions(header: str | None) -> frozenset[int] | None:
    """Return the versions an ``If-Match`` header accepts; None when it accepts any.

    A missing header and ``*`` accept any version. Tags that are not ours parse
    to nothing, so an ``If-Match`` naming only foreign tags matches no version.
    """
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in _TAG.findall(header):
        if tag.isdigit():
            versions.add(int(tag))
    return frozenset(versions)


def none_match(header: str | None, version: int) -> bool:
    """Tell whether ``If-None-Match`` matches ``version`` (so a GET answers 304)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    accepted = read_versions(header)
    return accepted is not None and version in accepted
