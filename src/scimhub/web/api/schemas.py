"""JSON Schema building blocks for the OpenAPI components (JSON Schema 2020-12, which OpenAPI 3.1 uses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scimhub.domain.roles import Privilege, Role

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
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
