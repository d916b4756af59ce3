"""The SCIM endpoint reads a request's header lines as fields: a name's lines are one list (RFC 9110 §5.3)."""

from __future__ import annotations

from scimhub.web.scim import _header_fields


def test_each_name_once_reads_as_sent() -> None:
    lines = [(b"host", b"example.com"), (b"if-match", b'W/"3"')]
    assert _header_fields(lines) == {"host": "example.com", "if-match": 'W/"3"'}


def test_a_name_sent_twice_is_its_lines_joined_in_order() -> None:
    """A second If-None-Match line adds to the first, never replaces it."""
    lines = [(b"if-none-match", b"*"), (b"host", b"h"), (b"if-none-match", b'W/"9"')]
    assert _header_fields(lines) == {"if-none-match": '*, W/"9"', "host": "h"}


def test_many_lines_of_one_name_are_one_field() -> None:
    """65,000 lines of one name, what a 64 KiB header section holds, are one field, in order."""
    lines = [(b"a", b"x")] * 65_000
    assert _header_fields(lines) == {"a": ", ".join(["x"] * 65_000)}
