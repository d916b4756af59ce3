"""Offsets: the opaque strings a consumer hands back to continue where it stopped.

An offset names a position in one database's feed: the feed's stream id and the
``seq`` of the last event delivered. Consumers must not read anything into it
(DataHub's contract: "Offset id the stream for scrolling"); we keep it short,
URL-safe and versioned so the format can change without breaking old offsets.
"""

from __future__ import annotations

import base64
import binascii

from scimhub.errors import InvalidValue

_VERSION = "1"
MAX_SEQ = 2**63 - 1
"""The largest ``seq`` an event can have: both engines keep it as a signed 64-bit integer."""


def encode_offset(stream: str, seq: int) -> str:
    """Return the offset for the position after event ``seq`` of feed ``stream``."""
    raw = f"{_VERSION}:{stream}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_offset(offset: str, stream: str) -> int:
    """Return the ``seq`` an offset of feed ``stream`` names.

    :raises InvalidValue: When it is not an offset this server made, or was made by
        another database (a restore or a new server would otherwise silently skip
        or repeat events).
    """
    fields = _fields(offset)
    if fields is None:
        raise InvalidValue(f"offsetId {offset[:80]!r} is not an offset this server issued")
    found_stream, seq = fields
    if found_stream != stream:
        raise InvalidValue(
            f"offsetId {offset[:80]!r} belongs to another event stream (another database);"
            " start again without offsetId"
        )
    return seq


def _fields(offset: str) -> tuple[str, int] | None:
    if not offset.isascii() or len(offset) > 96:
        return None
    try:
        text = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    version, _, rest = text.partition(":")
    stream, _, seq = rest.partition(":")
    if version != _VERSION or not stream or not (seq.isascii() and seq.isdigit()) or len(seq) > 19:
        return None
    number = int(seq)
    return (stream, number) if number <= MAX_SEQ else None  # 19 digits say more than the database holds
