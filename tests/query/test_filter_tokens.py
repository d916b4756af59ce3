"""The filter tokenizer: one regular expression read as the character-by-character reading it replaced."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimhub.errors import InvalidFilter
from scimhub.query.filter.tokens import Token, tokenize


def _by_character(text: str) -> list[tuple[str, str, int, bool]] | str:
    """The reading tokenize had before its regular expression (the oracle); a failure as part of its text."""
    tokens, i, n, glued = [], 0, len(text), True
    while i < n:
        char = text[i]
        if char.isspace():
            i, glued = i + 1, False
            continue
        if char in "()[]":
            tokens.append((char, char, i, glued))
            i += 1
        elif char == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                return f"unterminated string starting at position {i + 1}"
            try:
                value = json.loads(text[i : end + 1])
                value.encode("utf-8")
            except ValueError:  # UnicodeEncodeError is one
                return f"position {i + 1}"
            if "\x00" in value:
                return f"position {i + 1}"
            tokens.append(("string", value, i, glued))
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()[]"':
                i += 1
            tokens.append(("word", text[start:i], start, glued))
        glued = True
    tokens.append(("end", "", n, glued))
    return tokens


def _read(text: str) -> list[tuple[str, str, int, bool]] | str:
    try:
        return [tuple(token) for token in tokenize(text, InvalidFilter, "filter")]  # type: ignore[misc]
    except InvalidFilter as error:
        return str(error)


def _same(text: str) -> None:
    expected, found = _by_character(text), _read(text)
    if isinstance(expected, str):
        assert isinstance(found, str) and expected in found, (text, found)
    else:
        assert found == expected, text


_PIECES = st.sampled_from(
    ['"', "\\", "\\\\", '\\"', "\\u0000", "\\ud800", "\\n", "(", ")", "[", "]", " ", "\t", "\u3000", "\x85",
     "eq", "userName", "a.b", "urn:x:y", "é", "1e5", "\x00"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join))
def test_it_reads_any_text_as_the_character_reading_did(text: str) -> None:
    _same(text)


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "bjensen@example.com"',
        'emails[type eq "work" and value co "@x"] or (title pr)',
        "  leading and trailing  ",
        'a eq "esc\\"aped" ',
        'a eq "unterminated',
        'a eq "ends in a backslash\\',
        'a eq "lone \\ud800 surrogate"',
        'a eq "nul \\u0000"',
        'a eq "bad \\x escape"',
        'a eq "line\nbreak"',
        "meta.created gt 2015-10-10T14:38:21.8617979-07:00",
        "\u3000userName\u2028eq\xa0x",
        "",
    ],
)
def test_known_texts_read_as_the_character_reading_did(text: str) -> None:
    _same(text)


def test_a_token_reads_by_name_and_tells_what_touches_what() -> None:
    first, second, end = tokenize("x[y", InvalidFilter, "filter")[:2] + [
        tokenize("x ", InvalidFilter, "f")[-1]
    ]
    assert first == Token("word", "x", 0, True) and (second.kind, second.glued) == ("[", True)
    assert (end.kind, end.pos, end.glued) == ("end", 2, False)
