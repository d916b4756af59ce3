"""Attribute paths: ``userName``, ``name.givenName``, ``urn:…:enterprise:2.0:User:manager.value``.

RFC 7644 §3.10 lets an attribute be named with its schema URN in front. The URN
itself contains dots (``2.0``), so it is matched against the resource type's known
schema URNs rather than split on ``.`` (Entra sends such paths: docs/entra-client.md quirk #4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from scimhub.errors import InvalidInput, InvalidPath
from scimhub.query.schema import COMMON_BY_KEY, Attribute, ResourceType, Schema


@dataclass(frozen=True)
class AttrRef:
    """An attribute path resolved against a resource type."""

    schema: Schema | None
    """The schema that owns the attribute; None for id, externalId and meta."""
    attribute: Attribute
    sub: Attribute | None = None
    """The sub-attribute of a complex attribute, when the path names one."""

    # What follows is derived from the three fields, once per ref: a body's reading asks each ref for
    # its keys and its name several times, and the refs of a body's keys are kept (``values._named``).
    @cached_property
    def is_extension(self) -> bool:
        """Tell whether the attribute lives under its schema URN in the document."""
        return self.schema is not None and self.schema.id.startswith("urn:ietf:params:scim:schemas:extension")

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Return the canonical keys that lead to the attribute in a stored document."""
        head = (self.schema.id,) if self.schema is not None and self.is_extension else ()
        tail = (self.sub.name,) if self.sub is not None else ()
        return (*head, self.attribute.name, *tail)

    @property
    def target(self) -> Attribute:
        """Return the innermost attribute the path names."""
        return self.sub or self.attribute

    def with_sub(self, sub: Attribute | None) -> AttrRef:
        """Return the same attribute narrowed to one of its sub-attributes."""
        return AttrRef(self.schema, self.attribute, sub)

    @cached_property
    def _text(self) -> str:
        name = self.attribute.name + (f".{self.sub.name}" if self.sub else "")
        return f"{self.schema.id}:{name}" if self.is_extension and self.schema else name

    def __str__(self) -> str:
        return self._text


def split_urn(resource_type: ResourceType, text: str) -> tuple[Schema | None, str]:
    """Split a leading schema URN off ``text``.

    Return ``(schema, rest)``; ``schema`` is None when ``text`` has no URN prefix.

    :raises LookupError: When ``text`` starts with a URN that is not one of the
        resource type's schemas.
    """
    if not text[:4].lower() == "urn:":
        return None, text
    lowered = text.lower()
    for schema in resource_type.schemas():
        prefix = schema.id.lower()
        if lowered == prefix:
            return schema, ""
        if lowered.startswith(prefix + ":"):
            return schema, text[len(prefix) + 1 :]
    raise LookupError(text)


@lru_cache(maxsize=1024)  # few paths, the same in every request; types are constants, hashed by identity
def resolve(
    resource_type: ResourceType,
    text: str,
    error: type[InvalidInput] = InvalidPath,
) -> AttrRef:
    """Resolve an attribute path such as ``name.givenName`` against ``resource_type``.

    :raises InvalidInput: (of class ``error``) When the path names no attribute.
    """
    try:
        schema, rest = split_urn(resource_type, text)
    except LookupError:
        raise error(f"'{text}' names a schema that {resource_type.name} does not have") from None
    name, _, sub_name = rest.partition(".")
    attribute: Attribute | None = None
    if schema is None:
        attribute = COMMON_BY_KEY.get(name.lower())
        owner = None if attribute else resource_type.schema
        attribute = attribute or resource_type.schema.attribute(name)
    else:
        owner = schema
        attribute = schema.attribute(name) if name else None
    if attribute is None:
        raise error(f"'{text}' is not an attribute of {resource_type.name}")
    if not sub_name:
        return AttrRef(owner, attribute)
    sub = attribute.sub(sub_name)
    if sub is None or "." in sub_name:
        raise error(f"'{text}' is not an attribute of {resource_type.name}")
    return AttrRef(owner, attribute, sub)
