"""The ``attributes`` and ``excludedAttributes`` parameters read into attribute paths (RFC 7644 §3.9).

``projection.py`` turns what is read here into the representation a response keeps; the module
docstring there says which names are accepted, ignored or refused, and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from scimhub.errors import InvalidValue
from scimhub.query.paths import AttrRef, resolve, split_urn
from scimhub.query.schema import COMMON, ResourceType

MAX_NAMES = 100
"""The most names one ``attributes`` or ``excludedAttributes`` holds; the User schema has
fewer than 100 paths, so a longer list only repeats them (ADR 0025)."""
MAX_NAMES_LENGTH = 4096
"""The longest ``attributes`` or ``excludedAttributes``, in characters, as for a filter: the
last planned projections are kept in memory, so their size must be bounded."""


def check_size(names: str | Sequence[str] | None, parameter: str) -> None:
    """Refuse an attribute list longer than ``MAX_NAMES_LENGTH`` characters or ``MAX_NAMES`` names.

    :raises InvalidValue: When it is.
    """
    if names is None:
        return
    texts = [names] if isinstance(names, str) else names
    if not isinstance(texts, Sequence) or not all(isinstance(text, str) for text in texts):
        return  # ``read_attribute_list`` says what is wrong with it
    length = sum(len(text) for text in texts) + max(len(texts) - 1, 0)
    if length > MAX_NAMES_LENGTH:
        raise InvalidValue(f"{parameter} is longer than {MAX_NAMES_LENGTH} characters")
    count = sum(text.count(",") + 1 for text in texts)
    if count > MAX_NAMES:
        raise InvalidValue(f"{parameter} names more than {MAX_NAMES} attributes")


def read_attribute_list(
    resource_type: ResourceType,
    value: str | Sequence[str] | None,
    parameter: str = "attributes",
) -> tuple[AttrRef, ...] | None:
    """Resolve the names in an ``attributes`` or ``excludedAttributes`` value (RFC 7644 §3.9).

    ``value`` is the comma-separated query parameter, or the list of names of a
    SearchRequest (§3.4.3). Return None when the parameter is absent or blank, else
    the attributes named, in order, without duplicates and without the names that
    name nothing (see the module docstring); a bare schema URN yields every
    attribute of its schema.

    :raises InvalidValue: When the text is not a list of names, or when
        ``excludedAttributes`` holds a value filter; ``detail`` quotes the culprit.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, Sequence) or not all(isinstance(item, str) for item in value):
        # A SearchRequest body is JSON: its "attributes" may hold anything.
        raise InvalidValue(f"{parameter} must be a list of attribute names (strings)")
    names = [name.strip() for text in value for name in _split_names(text, parameter)]
    if not any(names):
        return None
    refs: dict[tuple[str, ...], AttrRef] = {}
    for name in filter(None, names):
        for ref in _resolve_name(resource_type, _drop_value_filter(name, parameter)):
            refs.setdefault(attribute_key(ref), ref)
    return tuple(refs.values())


def _split_names(text: str, parameter: str) -> list[str]:
    """Split ``text`` at the commas that are outside value filters and their strings.

    :raises InvalidValue: When a ``[`` or a string is never closed, a ``]`` closes
        nothing, or value filters nest.
    """
    names: list[str] = []
    start = depth = 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and depth:
            in_string = True
        elif char == "[":
            if depth:
                raise InvalidValue(f"{parameter}: '{text}' has a '[' inside a value filter")
            depth = 1
        elif char == "]":
            if not depth:
                raise InvalidValue(f"{parameter}: the ']' at character {index + 1} of '{text}' closes no '['")
            depth = 0
        elif char == "," and not depth:
            names.append(text[start:index])
            start = index + 1
    if in_string:
        raise InvalidValue(f"{parameter}: '{text}' has a string that is never closed")
    if depth:
        raise InvalidValue(f"{parameter}: '{text}' has a '[' that is never closed")
    names.append(text[start:])
    return names


def _drop_value_filter(name: str, parameter: str) -> str:
    """Return ``name`` without its ``[…]`` value filter: ``emails[type eq "work"].value`` → ``emails.value``.

    :raises InvalidValue: In ``excludedAttributes``, or when what follows ``]`` is
        not a sub-attribute.
    """
    opening = name.find("[")
    if opening < 0:
        return name
    if parameter != "attributes":
        raise InvalidValue(
            f"{parameter}: '{name}' filters values, but {parameter} takes attribute names only"
            " (RFC 7644 §3.4.2.5)"
        )
    closing = name.rindex("]")
    rest = name[closing + 1 :].strip()
    if rest and not rest.startswith("."):
        raise InvalidValue(f"{parameter}: in '{name}', '{rest}' after ']' is not a sub-attribute")
    return name[:opening].strip() + rest


def _resolve_name(resource_type: ResourceType, name: str) -> tuple[AttrRef, ...]:
    """Return what ``name`` names: one attribute, every attribute of a bare URN, or nothing."""
    try:
        schema, rest = split_urn(resource_type, name)
    except LookupError:
        return ()
    if schema is not None and not rest:
        return tuple(AttrRef(schema, attribute) for attribute in schema.attributes)
    if schema is resource_type.schema and rest.partition(".")[0].lower() in _COMMON_NAMES:
        # id, externalId and meta belong to no schema (RFC 7643 §3.1), yet clients
        # qualify them with the core URN as if they did: urn:…:core:2.0:User:id.
        name = rest
    try:
        return (resolve(resource_type, name, error=InvalidValue),)
    except InvalidValue:
        return ()


_COMMON_NAMES = frozenset(attribute.name.lower() for attribute in COMMON)


def attribute_key(ref: AttrRef) -> tuple[str, ...]:
    """Return where ``ref`` lives, lower-cased: (owner, attribute[, sub]); owner "" is the top level."""
    owner = ref.schema.id.lower() if ref.is_extension and ref.schema else ""
    tail = (ref.sub.name.lower(),) if ref.sub else ()
    return (owner, ref.attribute.name.lower(), *tail)
