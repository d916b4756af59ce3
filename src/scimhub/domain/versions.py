"""A resource's version, the counter its every change bumps, and the ETag that shows it (RFC 7644 §3.14)."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

_TAG = re.compile(r'(W/)?"([0-9]{1,18})"', re.ASCII)
"""One of our ETags, weak or not: ASCII digits only (``str.isdigit`` also admits ``²``
and ``٣``, which ``int`` then refuses or reads) and at most 18 of them, below 2**63,
so ``int`` never meets a 5,000-digit number."""


def etag(version: int) -> str:
    """Return the ETag of a resource at ``version``: weak, as RFC 7644 §3.14 recommends."""
    return f'W/"{version}"'


def tagged_version(text: str, *, weak_only: bool = False) -> int | None:
    """Return the version an ETag of ours names; None for other text, or a strong tag if ``weak_only``."""
    tag = _TAG.fullmatch(text)
    if tag is None or (weak_only and tag.group(1) is None):
        return None
    return int(tag.group(2))


Versions = Container[int]
"""The versions a write's preconditions accept: a set of them, or ``AllBut`` some."""


@dataclass(frozen=True)
class AllBut:
    """Every version but ``refused``: what a write's ``If-None-Match`` accepts (RFC 9110 §13.1.2)."""

    refused: frozenset[int] | None
    """The versions refused; None for ``*``, which refuses every version: any stored resource."""

    def __contains__(self, version: object) -> bool:
        return self.refused is not None and version not in self.refused
