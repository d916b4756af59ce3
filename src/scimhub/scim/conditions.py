"""ETags and conditional requests (RFC 7644 §3.14, RFC 9110 §13).

A resource's ETag is ``W/"<version>"``, its version a counter bumped on every
change. RFC 9110 §13.1.1 compares ``If-Match`` strongly, which would never match
the weak ETags RFC 7644 §3.14 recommends, so both headers compare weakly.

RFC 7644 §3.14 names ``If-Match`` for writes and ``If-None-Match`` for reads; a write
honours both, as RFC 9110 §13.1.2 asks of any method: ``If-None-Match: *`` on a PUT,
PATCH or DELETE of a stored resource is a 412, as is one naming its current ETag.
"""

from __future__ import annotations

from scimhub.domain.versions import AllBut, Versions, tagged_version
from scimhub.errors import InvalidValue


def read_versions(header: str | None, name: str = "If-Match") -> frozenset[int] | None:
    """Return the versions header ``name`` names (``If-Match`` accepts them); None for any version.

    A missing header and ``*`` name any version; so do ``*, *``, the lines of a header sent
    twice (RFC 9110 §5.3 joins them), and ``*,``: empty list elements are ignored (§5.6.1).
    Tags that are not ours parse to nothing, so an ``If-Match`` naming only foreign tags
    matches no version: a tag that is not a version we could have made (``W/"²"``, 5,000
    digits) simply matches nothing, never raises.

    :raises InvalidValue: When ``*`` stands in a list of tags, which its grammar does not allow
        (RFC 9110 §13.1.1) and which reads two ways: any version, or only the tags.
    """
    if header is None:
        return None
    # Split on commas, not with one regular expression over the header: a regex that
    # skips white space before a tag is quadratic in it (16 KB of spaces took 7.8 s).
    # A tag holding a comma (RFC 9110 §8.8.3 allows one) is not ours and matches nothing.
    items = [item for item in map(str.strip, header.split(",")) if item]
    if "*" in items:
        if all(item == "*" for item in items):
            return None
        raise InvalidValue(f'{name} is "*" alone or a list of entity tags, not both: {header[:100]!r}')
    versions = set()
    for item in items:
        version = tagged_version(item)
        if version is not None:
            versions.add(version)
    return frozenset(versions)


def write_versions(if_match: str | None, if_none_match: str | None) -> Versions | None:
    """Return the versions a write's ``If-Match`` and ``If-None-Match`` accept; None when they accept any.

    A version must be one ``If-Match`` names (any, when it is missing or ``*``) and none that
    ``If-None-Match`` names (every one, when it is ``*``).
    """
    accepted = read_versions(if_match)
    if if_none_match is None:
        return accepted
    refused = read_versions(if_none_match, "If-None-Match")  # None: "*", every version
    if accepted is None:
        return AllBut(refused)
    return frozenset() if refused is None else accepted - refused


def none_match(header: str | None, version: int) -> bool:
    """Tell whether ``If-None-Match`` matches ``version`` (so a GET answers 304)."""
    if header is None:
        return False
    named = read_versions(header, "If-None-Match")
    return named is None or version in named
