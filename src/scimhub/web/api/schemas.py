"""JSON Schema building blocks for the OpenAPI components (JSON Schema 2020-12, which OpenAPI 3.1 uses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scimhub.domain.roles import Privilege, Role

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
TEXT: Schema = {"type": "string", "minLength": 1}
"""A string that must say something: an empty value is refused, not read as absent."""

# Patterns say what the code accepts, in the regex dialect both JSON Schema (ECMA-262) and Python
# read alike: explicit classes, no ``.`` (Python's also matches \\r) and no ``$`` where a final
# newline would matter (Python's also matches before one), so validators of either kind draw one line.
PATTERN_MEANINGS: dict[str, str] = {}
"""Each pattern the document uses, with what it means in words, for the 422 detail that names it."""


def matching(pattern: str, meaning: str, **more: Any) -> Schema:
    """Return the schema of a string matching ``pattern``, and remember what it means for error details."""
    PATTERN_MEANINGS[pattern] = meaning
    return {"type": "string", "pattern": pattern, **more}


USER_URN = matching("^urn:li:corpuser:[\\s\\S]", "a urn:li:corpuser: URN (urn:li:corpuser:<userName>)")
"""A user's URN: the prefix and a userName (percent-encoded where DataHub encodes)."""
NAME = matching("[^\\t\\n\\v\\f\\r ]", "a text with a character other than white space")
"""A name a person gives: at least one character that is not ASCII white space."""
OFFSET = matching("^[A-Za-z0-9_-]+$", "an offsetId as this API issues them (URL-safe base64)", maxLength=96)
"""A feed position (``feed/offsets.py``): URL-safe base64 of at most 96 characters."""
FORMAT_MEANINGS: dict[str, str] = {
    "date-time": "an RFC 3339 date-time such as 2026-01-31T12:00:00Z",
    "date": "a date such as 2026-01-31 (midnight UTC)",
}
"""Each format the document uses, in words, for the 422 detail that names it."""
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
"""A moment the server recorded, in UTC to the second: ``2026-01-31T12:00:00Z``."""
MOMENT: Schema = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]}
"""A time: an RFC 3339 date-time, or a date (its midnight UTC)."""
MAX_WHOLE = 999_999_999
"""The largest ``start`` or ``count``: nine digits, beyond any directory, within every engine's integers."""
ROLE_NAME: Schema = {"type": "string", "enum": [role.value for role in Role]}
PRIVILEGES: Schema = {"type": "array", "items": {"type": "string", "enum": [p.value for p in Privilege]}}


def ref(name: str) -> Schema:
    """Return a reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    """Return the schema of an array of ``items``."""
    return {"type": "array", "items": items}


def enum(values: Iterable[str]) -> Schema:
    """Return the schema of a string that is one of ``values``."""
    return {"type": "string", "enum": list(values)}


def obj(properties: Mapping[str, Schema], *, optional: Iterable[str] = (), **extra: Any) -> Schema:
    """Return the schema of an object with ``properties``, each required unless ``optional``."""
    left_out = set(optional)
    return {
        "type": "object",
        "required": [name for name in properties if name not in left_out],
        "properties": dict(properties),
        **extra,
    }


def extending(base: str, properties: Mapping[str, Schema]) -> Schema:
    """Return the schema of the component ``base`` with more (required) ``properties``."""
    return {"allOf": [ref(base)], **obj(properties)}


def page_of(item: str) -> Schema:
    """Return the schema of one page of ``item`` (a component name) under its plural key, DataHub's way."""
    natural = {"type": "integer", "minimum": 0}
    return obj(
        {
            "start": natural,
            "count": {**natural, "description": "How many items this page holds."},
            "total": natural,
            item.lower() + "s": array(ref(item)),
        }
    )
