"""The tokens of filter and PATCH path text (RFC 7644 §3.4.2.2, §3.5.2): what ``parser.py`` reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidInput

NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""A JSON number (RFC 8259 §6)."""
_PUNCTUATION = "()[]"
_WORD_END = frozenset(_PUNCTUATION + '"')


@dataclass(frozen=True)
class Token:
    """A piece of filter or path text."""

    kind: str
    """One of ``( ) [ ]``, ``string`` (a quoted literal), ``word`` or ``end``."""
    text: str
    """The decoded value of a string; the source text of anything else."""
    pos: int
    """Offset of the token's first character in the input."""
    glued: bool
    """Whether the token directly follows the previous one, without whitespace."""


def tokenize(text: str, error: type[InvalidInput], what: str) -> list[Token]:
    """Split ``text`` into tokens: punctuation, quoted strings and words.

    A word is any run of characters other than whitespace, brackets, parentheses
    and double quotes; the parser decides from its position whether it is an
    attribute path, an operator, a keyword or a literal. Tolerance (Entra):
    literals may be written unquoted (``externalId eq jyoung``,
    ``meta.created gt 2015-10-10T14:38:21.8617979-07:00``); such a bare word is
    read as a string, which is why words may hold ``-``, ``:``, ``.`` or ``@``.
    """
    tokens: list[Token] = []
    i, n, glued = 0, len(text), True
    while i < n:
        char = text[i]
        if char.isspace():
            i, glued = i + 1, False
            continue
        if char in _PUNCTUATION:
            tokens.append(Token(char, char, i, glued))
            i += 1
        elif char == '"':
            end = _string_end(text, i)
            if end < 0:
                raise error(f"unterminated string starting at position {i + 1} of the {what}")
            try:
                value = json.loads(text[i : end + 1])
            except ValueError:
                raise error(f"malformed string literal at position {i + 1} of the {what}") from None
            if not _is_unicode(value):
                raise error(f"the string literal at position {i + 1} of the {what} holds a lone surrogate")
            check_no_nul(value, f"the string literal at position {i + 1} of the {what}", error)  # \u0000
            tokens.append(Token("string", value, i, glued))
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _WORD_END:
                i += 1
            tokens.append(Token("word", text[start:i], start, glued))
        glued = True
    tokens.append(Token("end", "", n, glued))
    return tokens


def _is_unicode(value: str) -> bool:
    """Tell whether ``value`` is a string of Unicode scalar values, as RFC 8259 §8.2 asks of interchange.

    ``json.loads`` decodes an escaped lone surrogate (an escaped code point from U+D800 to U+DFFF),
    which no database can store or compare: it is refused here, as orjson refuses it in bodies.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string_end(text: str, start: int) -> int:
    """Return the offset of the quote closing the string opened at ``start``, or -1."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i
        else:
            i += 1
    return -1
