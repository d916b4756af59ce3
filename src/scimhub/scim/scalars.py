"""Check scalar values against their attribute's type (RFC 7643 §2.3), and describe them in errors.

Strings, booleans, numbers, dateTimes and binaries are checked and kept as sent
(strings refuse NUL, and the indexed ones follow their ``TextRule``, ADR 0021):
a dateTime keeps its offset and precision, a base64 string its padding, so a GET
returns exactly what the client wrote (ADR 0004). ``values.py`` reads complex
values and lists, and checks everything else with ``scalar_reader``'s reader.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from datetime import datetime

from scimhub.domain.text import check_no_nul
from scimhub.errors import InvalidValue
from scimhub.query.schema import Attribute

MAX_STRING_BYTES = 64 * 1024
"""The longest string value accepted, in UTF-8 bytes; no SCIM attribute needs more."""


ScalarReader = Callable[[Attribute, object, str], object]
"""Returns a value checked against its attribute's type; raises InvalidValue naming it by ``where``."""


def scalar_reader(attribute: Attribute) -> ScalarReader:
    """Return the check of a value of the non-complex ``attribute``'s type."""
    return _READERS[attribute.type]


def _read_string(attribute: Attribute, value: object, where: str) -> object:
    if not isinstance(value, str):
        raise InvalidValue(f"{where} must be a string, not {describe_value(attribute, value)}")
    # a str of n code points has at most 4n UTF-8 bytes: encode only long ones
    if len(value) * 4 > MAX_STRING_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_STRING_BYTES:
        raise InvalidValue(f"{where} is longer than {MAX_STRING_BYTES} bytes")
    if attribute.required and not value.strip():
        raise InvalidValue(f"{where} is required and must not be empty")
    # ADR 0021: no NUL in any stored text, and indexed strings within their limits and form
    return check_no_nul(value, where) if attribute.text is None else attribute.text.read(value, where)


def _read_boolean(attribute: Attribute, value: object, where: str) -> object:
    if not isinstance(value, bool):
        raise InvalidValue(f"{where} must be true or false, not {describe_value(attribute, value)}")
    return value


def _read_integer(attribute: Attribute, value: object, where: str) -> object:
    if type(value) is not int:
        raise InvalidValue(f"{where} must be an integer, not {describe_value(attribute, value)}")
    return _in_range(value, where)


def _read_decimal(attribute: Attribute, value: object, where: str) -> object:
    if type(value) is int:
        return _in_range(value, where)
    if type(value) is not float or not math.isfinite(value):
        raise InvalidValue(f"{where} must be a decimal number, not {describe_value(attribute, value)}")
    return value


def _in_range(value: int, where: str) -> int:
    if not -(2**63) <= value < 2**63:
        raise InvalidValue(f"{where} is out of range: numbers are limited to 64 bits")
    return value


_DATETIME = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](?P<oh>\d{2}):(?P<om>\d{2}))?",
    re.ASCII,
)


def _read_datetime(attribute: Attribute, value: object, where: str) -> object:
    """Check an xsd:dateTime (RFC 7643 §2.3.5); the string is kept as sent."""
    text = _read_string(attribute, value, where)
    assert isinstance(text, str)
    match = _DATETIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        fields = {k: int(v) for k, v in match.groupdict(default="0").items()}
        # RFC 3339 §5.6 allows a leap second (60), which datetime does not
        datetime(fields["y"], fields["mo"], fields["d"], fields["h"], fields["mi"], min(fields["s"], 59))
        if fields["s"] > 60 or fields["oh"] > 23 or fields["om"] > 59:
            raise ValueError(text)
    except ValueError:
        raise InvalidValue(
            f"{where} must be a date and time such as 2008-01-23T04:56:22Z, not {shorten(text)}"
        ) from None
    return text


def _read_binary(attribute: Attribute, value: object, where: str) -> object:
    """Check base64 (RFC 7643 §2.3.6, RFC 4648 §4); the string is kept as sent."""
    text = _read_string(attribute, value, where)
    assert isinstance(text, str)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(f"{where} must be base64 (RFC 4648 §4)") from None
    return text


_READERS: dict[str, ScalarReader] = {
    "string": _read_string,
    "reference": _read_string,
    "boolean": _read_boolean,
    "integer": _read_integer,
    "decimal": _read_decimal,
    "dateTime": _read_datetime,
    "binary": _read_binary,
}


def json_kind(value: object) -> str:
    """Name the JSON type of ``value`` for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def shorten(value: object) -> str:
    """Return the repr of ``value`` cut to 60 characters, for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_value(attribute: Attribute, value: object) -> str:
    """Describe a wrong value; never echo a writeOnly one (a password)."""
    if attribute.mutability == "writeOnly" or attribute.returned == "never":
        return json_kind(value)
    if isinstance(value, dict | list):
        return json_kind(value)
    return f"{json_kind(value)} ({shorten(value)})"
