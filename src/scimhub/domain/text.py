"""The service's rules for text it stores, compares or looks up (ADR 0021).

Three rules, the same on SQLite and PostgreSQL because they are checked here, before
either engine sees the text:

- **No NUL anywhere.** PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000 while
  SQLite's can; rather than let the engine decide (a 500 on one, a stored value on the
  other), no text that reaches the database may contain it: attribute values, ids in
  paths, filters, query parameters, the JSON API's fields.
- **Bounded length for indexed strings.** A PostgreSQL btree entry holds at most 2,704
  bytes; a value longer than that fails the write (``index row size exceeds maximum``).
  Each indexed attribute has a limit in characters, and the names that also become a
  DataHub URN (percent-encoded UTF-8, up to 12 bytes per character) a limit in UTF-8
  bytes too, so the worst case fits an index entry with room to spare.
- **One spelling per identity** (RFC 8264, PRECIS, as the reference): userName and a
  Group's displayName are normalised to NFC (so the NFC and NFD spellings of one name
  are one name), and refuse what makes two names look alike or one name look like
  another: control characters (Cc), format characters such as zero-width joiners and
  bidirectional overrides (Cf), line and paragraph separators (Zl, Zp), surrogates
  (Cs), private-use (Co) and unassigned (Cn) code points, and leading or trailing white
  space. These are PRECIS FreeformClass's disallowed categories, applied with the
  ``unicodedata`` of the running Python.

The comparison key of such names (``fold``) is the NFC form lower-cased: what the
unique ``*_key`` columns hold and what an ``eq`` filter compares with.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from scimhub.errors import InvalidInput, InvalidValue

NUL = "\x00"

_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format character (zero-width or bidirectional control)",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
"""The general categories an identifier may not contain (RFC 8264 §9: Controls,
PrecisIgnorableProperties, Unassigned and the code points no PRECIS class admits)."""


@dataclass(frozen=True)
class TextRule:
    """The limits and form of one attribute's string values (ADR 0021)."""

    max_chars: int
    """The most characters (code points) a value may have."""
    max_bytes: int | None = None
    """The most UTF-8 bytes, for values that also become a percent-encoded URN."""
    identifier: bool = False
    """Normalise to NFC and refuse look-alike characters (the module docstring)."""

    def describe(self) -> str:
        """Return the rule in words, for the attribute descriptions ``/Schemas`` serves."""
        limit = f"At most {self.max_chars} characters"
        if self.max_bytes is not None:
            limit += f" and {self.max_bytes} bytes of UTF-8"
        if self.identifier:
            limit += (
                "; stored and compared in Unicode NFC; control, format (zero-width, bidirectional),"
                " private-use and unassigned characters and leading or trailing spaces are refused"
            )
        return limit + " (RFC 8264 as the reference)." if self.identifier else limit + "."

    def read(self, value: str, where: str) -> str:
        """Return ``value`` in the form this rule stores (NFC for identifiers), checked.

        :raises InvalidValue: When the value is too long or, for an identifier, holds a
            refused character or leading or trailing white space; ``where`` names it.
        """
        check_no_nul(value, where)
        if self.identifier:
            if not value.isascii():  # ASCII is its own NFC
                value = unicodedata.normalize("NFC", value)
            check_identifier(value, where)
        if len(value) > self.max_chars:
            raise InvalidValue(f"{where} is {len(value)} characters long; the limit is {self.max_chars}")
        if self.max_bytes is not None and len(value) * 4 > self.max_bytes:
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > self.max_bytes:
                raise InvalidValue(
                    f"{where} is {size} bytes long in UTF-8; the limit is {self.max_bytes} bytes"
                )
        return value


NAME = TextRule(max_chars=256, max_bytes=800, identifier=True)
"""userName and Group displayName: 256 characters holds any e-mail address (254 at most,
RFC 5321 §4.5.3.1) and Entra's UPN (113) and group names (256); 800 bytes holds 256
characters of the Basic Multilingual Plane and keeps the DataHub URN (3 bytes per
UTF-8 byte) under 2,420 bytes."""
DISPLAY_NAME = TextRule(max_chars=256, max_bytes=800)
"""A User's displayName: indexed, folded (NFC, lower case), for the console's prefix search. Entra's
displayNames are at most 256 characters; 800 bytes keep the folded key within a PostgreSQL index
entry (NFC turns a code point into at most three times its bytes). Not an identifier: any text
but NUL, as sent."""
EXTERNAL_ID = TextRule(max_chars=512)
"""externalId: Entra's object id is 36 characters, an LDAP DN a few hundred; 512
characters are at most 2,048 bytes of UTF-8."""
EMAIL = TextRule(max_chars=320)
"""An email's value: 64 for the local part, 1 for ``@``, 255 for the domain."""


def check_no_nul(text: str, where: str, error: type[InvalidInput] = InvalidValue) -> str:
    """Return ``text`` when it holds no NUL (U+0000), which PostgreSQL text cannot store.

    :raises InvalidInput: ``error`` (InvalidValue unless the caller names InvalidFilter,
        InvalidPath…), naming ``where`` and the position of the NUL.
    """
    position = text.find(NUL)
    if position >= 0:
        raise error(
            f"{where} contains a NUL character (U+0000) at position {position}; it is not allowed in text"
        )
    return text


def check_identifier(text: str, where: str) -> None:
    """Check that an NFC ``text`` holds no refused character and no outer white space (RFC 8264 §9).

    :raises InvalidValue: Naming the first refused character and where it is.
    """
    # printable ASCII holds none of them: skip the per-character look-up (most names)
    for position, char in enumerate("" if text.isascii() and text.isprintable() else text):
        category = unicodedata.category(char)
        kind = _REFUSED_CATEGORIES.get(category)
        if kind is not None:
            found = f"{kind}, U+{ord(char):04X}, at position {position}"
            raise InvalidValue(f"{where} contains {found}; it is not allowed in a name")
    if text != text.strip():
        raise InvalidValue(f"{where} starts or ends with white space; it is not allowed in a name")


def lower_each(text: str) -> str:
    """Return ``text`` with each character in its simple lower case (UnicodeData.txt): SQL's ``lower()``.

    What a caseExact=false comparison folds, wherever it runs: PostgreSQL's ``lower()`` (libc under
    a UTF-8 ctype) maps each character alone, SQLite's is this function (the store registers it),
    and the filter evaluator folds with it too, so that a PATCH's value filter picks the elements a
    search would find.

    Python's ``str.lower()`` differs from that in two characters only: it writes a word's final Σ as
    ς (the one context CPython applies) and İ as i followed by a combining dot (the one character
    whose full lower case is two). Each is given its simple lower case first, and ``str.lower()``
    does the rest in C: a character at a time in Python cost 20 times more on long text, which a
    PATCH of many value filters over long values multiplies (session 41's adversarial run).
    ``tests/domain/test_text.py`` checks every code point and random text against the
    per-character mapping.
    """
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()


def fold(text: str) -> str:
    """Return the comparison key of a name: its NFC form, lower-cased (the ``*_key`` columns)."""
    return unicodedata.normalize("NFC", text).lower()
