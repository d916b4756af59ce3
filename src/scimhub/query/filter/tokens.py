"""The tokens of filter and PATCH path text (RFC 7644 §3.4.2.2, §3.5.2): what ``parser.py`` reads."""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidInput

NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""A JSON number (RFC 8259 §6)."""
_TOKEN = re.compile(r'(\s*)(?:([()\[\]])|("(?:[^"\\]++|\\.)*+")|([^\s()\[\]"]++)|("))', re.DOTALL)
"""Whitespace, then one token: punctuation, a quoted string (a backslash escapes any character), a
word, or a quote that opens no terminated string. ``\\s`` is ``str.isspace``'s whitespace."""


class Token(NamedTuple):
    """A piece of filter or path text (a tuple: a filter is read into several per request)."""

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
    pos, n = 0, len(text)
    match = _TOKEN.match
    while (found := match(text, pos)) is not None:
        space, punctuation, quoted, word, lone_quote = found.groups()
        start, glued = found.start(2 if punctuation else 3 if quoted else 4 if word else 5), not space
        if punctuation:
            tokens.append(Token(punctuation, punctuation, start, glued))
        elif word:
            tokens.append(Token("word", word, start, glued))
        elif quoted:
            tokens.append(Token("string", _decoded(quoted, start, error, what), start, glued))
        else:
            raise error(f"unterminated string starting at position {start + 1} of the {what}")
        pos = found.end()
    tokens.append(Token("end", "", n, pos == n))
    return tokens


def _decoded(quoted: str, start: int, error: type[InvalidInput], what: str) -> str:
    """Return the value of the JSON string ``quoted`` found at ``start``; raise ``error`` if it is none."""
    try:
        value = json.loads(quoted)
    except ValueError:
        raise error(f"malformed string literal at position {start + 1} of the {what}") from None
    if not _is_unicode(value):
        raise error(f"the string literal at position {start + 1} of the {what} holds a lone surrogate")
    check_no_nul(value, f"the string literal at position {start + 1} of the {what}", error)  # \u0000
    return value


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
