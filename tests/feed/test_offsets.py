"""Offsets: opaque, round-trip, and refused when they are not this feed's."""

from __future__ import annotations

import base64

import pytest

from scimhub.errors import InvalidValue
from scimhub.feed.offsets import MAX_SEQ, decode_offset, encode_offset


def test_an_offset_reads_back_as_its_position() -> None:
    """decode(encode(stream, seq)) is seq, and the offset is URL-safe text."""
    for seq in (0, 1, 42, 2**62, MAX_SEQ):
        offset = encode_offset("abc123", seq)
        assert decode_offset(offset, "abc123") == seq
        assert offset.isascii() and "=" not in offset and "/" not in offset and "+" not in offset


def test_an_offset_of_another_feed_is_refused() -> None:
    """An offset made by another database's feed is a 400, not a silent jump."""
    with pytest.raises(InvalidValue, match="another event stream"):
        decode_offset(encode_offset("other", 5), "mine")


@pytest.mark.parametrize(
    "offset",
    [
        "garbage",
        "",
        "5",
        "é",
        "x" * 200,
        base64.urlsafe_b64encode(b"2:mine:5").decode(),
        base64.urlsafe_b64encode(b"1:mine:-5").decode(),
        base64.urlsafe_b64encode(b"1:mine:").decode(),
        base64.urlsafe_b64encode(b"1::5").decode(),
        encode_offset("mine", MAX_SEQ + 1),  # past a signed 64-bit integer: no event has it
        encode_offset("mine", 10**19 - 1),
    ],
)
def test_a_malformed_offset_is_refused(offset: str) -> None:
    """Anything this server did not issue is refused with a message that says so."""
    with pytest.raises(InvalidValue, match="not an offset this server issued"):
        decode_offset(offset, "mine")
