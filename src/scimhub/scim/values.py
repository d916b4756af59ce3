"""Read client input against the schema into the canonical stored document.

POST, PUT and PATCH all go through here, so a value is accepted or refused the same
way whichever verb carries it. The rules (RFC 7643 §2, §2.2, §2.3, §2.4, §2.5, §7;
RFC 7644 §3.3, §3.5.1, §3.10):

- attribute names match in any case and are rewritten to their canonical spelling;
- extension attributes arrive nested under their schema URN (in any case) or as flat
  URN-qualified keys; the canonical form is nested;
- keys that start with the URN of a schema this resource type does not have are
  ignored: clients send custom extensions we do not serve (Entra's
  ``urn:…:CustomExtensionName:2.0:User:…``) and refusing them would fail the whole
  resource. An unknown attribute of a *known* schema is refused (InvalidValue);
- ``schemas`` is never read as an attribute value: skipped at the top level and
  inside an extension object (where scim2-models serializes one);
- readOnly attributes (``id``, ``meta``, ``groups``, ``manager.displayName``) are
  ignored in POST and PUT bodies (RFC 7643 §2.2); a PATCH that names one at the top
  level is refused (``read_only="reject"``, RFC 7644 §3.5.2), unless it sends the
  value the resource already has (``unchanged``): RFC 7643 §7 forbids modifying a
  readOnly attribute, and repeating its value modifies nothing. Okta renames a group
  with ``{"op": "replace", "value": {"id": <the group's id>, "displayName": …}}``;
- null means unassigned and is dropped (also inside complex values and lists), and
  so are empty lists and empty objects (RFC 7643 §2.5);
- a single value for a multi-valued attribute is read as a list of one (liberal:
  ``"emails": {"value": …}`` can mean nothing else);
- scalars are checked by ``scalars.py``: strings are capped at
  ``MAX_STRING_BYTES`` UTF-8 bytes, integers at 64 bits.

Tolerance of client dialects (Microsoft Entra's above all) is data, not special
cases: a ``Dialect`` (``dialects.py``) carries named rules (``entra.py``) that
rewrite objects and values before the keys and types are read. ``DEFAULT`` is
the RFC read liberally, Entra included; ``STRICT`` is the RFC to the letter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from scimhub.errors import InvalidSyntax, InvalidValue, Mutability
from scimhub.query.paths import AttrRef, resolve, split_urn
from scimhub.query.schema import COMMON_BY_KEY, CORE_GROUP, CORE_USER, GROUP, Attribute, ResourceType, Schema
from scimhub.scim.dialects import DEFAULT, Dialect
from scimhub.scim.scalars import ScalarReader, json_kind, scalar_reader, shorten


@dataclass(frozen=True)
class Resource:
    """A POST or PUT body read against its resource type (RFC 7644 §3.3, §3.5.1)."""

    doc: dict[str, Any]
    """The canonical stored document (docs/conventions.md)."""
    password: str | None = None
    """The writeOnly password, taken out of the document to be hashed."""
    members: list[dict[str, str]] | None = None
    """Group members as ``{value, type?, display?}``; None when the body does not
    name ``members`` (PUT may keep them), ``[]`` when it sends null or an empty list."""
    schemas: tuple[str, ...] = ()
    """The ``schemas`` list as sent (unknown URIs included)."""


@dataclass(frozen=True)
class Assignment:
    """One attribute of a resource-level object, read."""

    ref: AttrRef
    value: object
    """The canonical value; None when the client sent null (unassign it)."""
    sent: object = None
    """The value as sent, for the nulls a PATCH replace reads as "unassign"."""


def read_resource(resource_type: ResourceType, body: object, *, dialect: Dialect = DEFAULT) -> Resource:
    """Read a POST or PUT body into a canonical resource (RFC 7644 §3.3, §3.5.1).

    :raises InvalidSyntax: When the body is not an object or ``schemas`` is not a
        list of strings.
    :raises InvalidValue: When a value does not fit its attribute, an attribute is
        unknown, or a required attribute is missing.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"a {resource_type.name} must be a JSON object, not {json_kind(body)}")
    schemas = _read_schemas(body)
    doc: dict[str, object] = {}
    password: str | None = None
    members: list[dict[str, str]] | None = None
    for assignment in read_assignments(resource_type, body, read_only="ignore", dialect=dialect):
        ref, value = assignment.ref, assignment.value
        if is_members(ref):
            members = value if isinstance(value, list) else []
        elif value is None:
            continue
        elif is_password(ref):
            password = str(value)
        else:
            put_value(doc, ref, value)
    check_required(resource_type, doc)
    return Resource(doc, password, members, schemas)


def read_assignments(
    resource_type: ResourceType,
    obj: object,
    *,
    read_only: Literal["ignore", "reject"] = "ignore",
    unchanged: Mapping[str, object] | None = None,
    dialect: Dialect = DEFAULT,
) -> list[Assignment]:
    """Read a resource-level object into one assignment per attribute it names.

    Keys are attribute names in any case, URN-qualified attribute paths
    (``urn:…:enterprise:2.0:User:manager.value``) or schema URNs whose value is an
    object of that schema's attributes (null there unassigns them all).

    :raises InvalidValue: When a key is unknown, named twice, or a value does not fit.
    :raises Mutability: When ``read_only`` is ``"reject"`` and a key names a
        readOnly attribute (RFC 7644 §3.5.2) with another value than the one
        ``unchanged`` holds for it (by canonical attribute name).
    """
    if not isinstance(obj, dict):
        raise InvalidValue(f"the value must be an object of attributes, not {json_kind(obj)}")
    found: dict[tuple[str, ...], Assignment] = {}
    # The keys of each container of an attribute found: ("name",) once name.givenName is.
    enclosing: set[tuple[str, ...]] = set()
    for key, value in dialect.rewrite(resource_type, obj).items():
        if key.lower() == "schemas":
            continue
        for ref, item in _refs(resource_type, key, value):
            if _is_read_only(ref):
                if read_only == "reject":
                    _check_unchanged(ref, item, unchanged or {})
                continue
            keys = ref.keys
            within = _containers(keys)
            # Named twice: the same attribute, one that contains it, or one it contains.
            if keys in enclosing or not found.keys().isdisjoint(within):
                clash = next(k for k in found if k[: len(keys)] == keys or keys[: len(k)] == k)
                raise InvalidValue(f"{ref} is named twice (as {key!r} and as {found[clash].ref})")
            enclosing.update(within[:-1])
            if is_members(ref):
                found[keys] = Assignment(ref, read_members(item, where=str(ref), dialect=dialect), item)
            else:
                found[keys] = Assignment(ref, read_value(ref, item, dialect=dialect), item)
    return list(found.values())


def read_value(
    target: AttrRef | Attribute,
    value: object,
    *,
    element: bool = False,
    where: str | None = None,
    dialect: Dialect = DEFAULT,
) -> object:
    """Return the canonical form of a value for ``target``, None when unassigned.

    A multi-valued target gives a list, unless ``element`` asks for one element of
    it (a PATCH value through a filter, ``emails[type eq "work"]``).

    :raises InvalidValue: When the value does not fit the attribute (RFC 7643 §2.3).
    """
    attribute = target.target if isinstance(target, AttrRef) else target
    if where is None:
        where = str(target) if isinstance(target, AttrRef) else attribute.name
    return _reader(dialect, attribute, attribute.multi_valued and not element)(value, where)


def read_members(
    value: object, *, where: str = "members", dialect: Dialect = DEFAULT
) -> list[dict[str, str]]:
    """Read Group members into ``{value, type?, display?}`` dicts, one per id.

    ``$ref`` is derived by the server and ignored (Entra sends ``"$ref": null``);
    ``type`` is ``User`` or ``Group`` in any case, stored in canonical case.

    :raises InvalidValue: When an element lacks ``value`` or has an unknown type.
    """
    attribute = GROUP.schema.attribute("members")
    assert attribute is not None  # the schema table defines it
    if value is None:
        return []
    members: dict[str, dict[str, str]] = {}
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        spot = f"{where}[{index}]"
        read = _reader(dialect, attribute, False)(item, spot)
        if read is None:
            continue
        assert isinstance(read, dict)
        member_id = read.get("value")
        if not isinstance(member_id, str) or not member_id.strip():
            raise InvalidValue(f"{spot}.value is required: the id of the member")
        member = {"value": member_id}
        kind = read.get("type")
        if kind is not None:
            canonical = {"user": "User", "group": "Group"}.get(str(kind).lower())
            if canonical is None:
                raise InvalidValue(f"{spot}.type must be User or Group, not {shorten(kind)}")
            member["type"] = canonical
        if "display" in read:
            member["display"] = str(read["display"])
        members.setdefault(member_id, member)
    return list(members.values())


def is_members(ref: AttrRef) -> bool:
    """Tell whether ``ref`` names Group ``members``, kept as rows, never in the doc."""
    return ref.schema is not None and ref.schema.id == CORE_GROUP and ref.attribute.name == "members"


def is_password(ref: AttrRef) -> bool:
    """Tell whether ``ref`` names the User ``password``, hashed apart from the doc."""
    return ref.schema is not None and ref.schema.id == CORE_USER and ref.attribute.name == "password"


def put_value(doc: dict[str, object], ref: AttrRef, value: object) -> None:
    """Set ``value`` at ``ref`` in ``doc``, creating the containers on the way.

    :raises InvalidValue: When ``ref`` names a sub-attribute of a multi-valued
        attribute, which has no single place to go.
    """
    if ref.sub is not None and ref.attribute.multi_valued:
        raise InvalidValue(f"{ref} names a sub-attribute of a multi-valued attribute; send the values whole")
    *heads, last = ref.keys
    container = doc
    for key in heads:
        inner = container.setdefault(key, {})
        assert isinstance(inner, dict)  # extension objects and complex values are dicts
        container = inner
    container[last] = value


def check_required(resource_type: ResourceType, doc: dict[str, object]) -> None:
    """Check that every required attribute has a value (RFC 7643 §2.2 ``required``).

    An extension's required attributes count only when the extension is present.

    :raises InvalidValue: Naming the first required attribute missing.
    """
    for schema, names in _required(resource_type):
        container = doc if schema is resource_type.schema else doc.get(schema.id)
        if not isinstance(container, dict):
            continue
        for name in names:
            if container.get(name) is None:
                raise InvalidValue(f"{name} is required")


@lru_cache(maxsize=64)  # resource types are constants, hashed by identity
def _required(resource_type: ResourceType) -> tuple[tuple[Schema, tuple[str, ...]], ...]:
    """Return each schema of ``resource_type`` with the names of its required attributes, in order."""
    return tuple(
        (schema, tuple(a.name for a in schema.attributes if a.required)) for schema in resource_type.schemas()
    )


def _refs(resource_type: ResourceType, key: str, value: object) -> list[tuple[AttrRef, object]]:
    """Return what one key of a resource-level object assigns: zero, one or many refs."""
    if key[:4].lower() != "urn:":
        ref = _named(resource_type, key)
        if ref is None:
            raise InvalidValue(f"'{key}' is not an attribute of {resource_type.name}")
        return [(ref, value)]
    try:
        schema, rest = split_urn(resource_type, key)
    except LookupError:
        return []  # a schema we do not serve: ignored on purpose (module docstring)
    if rest:
        return [(resolve(resource_type, key, error=InvalidValue), value)]
    assert schema is not None
    return _nested(schema, key, value)


@lru_cache(maxsize=4096)  # as entra._qualified: few names, the same in every body
def _named(resource_type: ResourceType, key: str) -> AttrRef | None:
    """Return the attribute a key without a URN names, a common one (``id``, ``meta``) first; or None."""
    attribute = COMMON_BY_KEY.get(key.lower())
    if attribute is not None:
        return AttrRef(None, attribute)
    attribute = resource_type.schema.attribute(key)
    return None if attribute is None else AttrRef(resource_type.schema, attribute)


def _nested(schema: Schema, key: str, value: object) -> list[tuple[AttrRef, object]]:
    """Return the assignments of an object nested under a schema URN key."""
    if value is None:
        return [(AttrRef(schema, a), None) for a in schema.attributes if a.mutability != "readOnly"]
    if not isinstance(value, dict):
        raise InvalidValue(f"'{key}' must be an object of {schema.name} attributes, not {json_kind(value)}")
    refs = []
    for name, item in value.items():
        if name.lower() == "schemas":
            # the common attribute (RFC 7643 §3), never one of the extension's: skipped
            # here as at the top level. scim2-models writes it into every extension
            # object it serializes, e.g. a PATCH value for the extension's URN.
            continue
        attribute = schema.attribute(name)
        if attribute is None:
            raise InvalidValue(f"'{name}' is not an attribute of {schema.id}")
        refs.append((AttrRef(schema, attribute), item))
    return refs


@lru_cache(maxsize=1024)  # canonical keys: as many as the schemas have attributes and sub-attributes
def _containers(keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Return the keys of each container of an attribute, outermost first, and its own keys last."""
    return tuple(keys[:n] for n in range(1, len(keys) + 1))


def _check_unchanged(ref: AttrRef, sent: object, unchanged: Mapping[str, object]) -> None:
    """Accept a readOnly attribute sent with the value it already has; refuse any other (RFC 7643 §7).

    :raises Mutability: Naming the attribute, the value sent and the one it must keep.
    """
    name = ref.attribute.name
    if ref.sub is None and name in unchanged:
        current = unchanged[name]
        if sent == current:
            return  # repeating a readOnly value modifies nothing
        raise Mutability(
            f"{ref} is readOnly: {shorten(sent)} is not this resource's {name} {current!r};"
            f" send {current!r} or leave {name} out"
        )
    raise Mutability(f"{ref} is readOnly: the server sets it, and a PATCH may not name it")


def _is_read_only(ref: AttrRef) -> bool:
    return ref.attribute.mutability == "readOnly" or (
        ref.sub is not None and ref.sub.mutability == "readOnly"
    )


def _read_schemas(body: dict[str, object]) -> tuple[str, ...]:
    schemas = None
    for key, value in body.items():
        if key.lower() == "schemas":
            schemas = value
            break
    if schemas is None:
        return ()
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidSyntax("schemas must be a list of schema URI strings")
    return tuple(schemas)


Reader = Callable[[object, str], object]
"""Reads a value sent for one attribute into its canonical form, None when unassigned; ``where``
names the value in an error."""

_readers: dict[tuple[int, int, bool], tuple[Dialect, Attribute, Reader]] = {}
"""Each reader made so far, by the ids of its dialect and attribute (both kept beside it, so that
no other object takes their ids) and whether it reads the whole list of a multi-valued attribute."""


def _reader(dialect: Dialect, attribute: Attribute, whole: bool) -> Reader:
    """Return the reader of ``attribute``'s values in ``dialect``: its list when ``whole``, else one.

    Made once per attribute and kept: the rules that apply, the type's check and the readers of
    the sub-attributes are looked up then, not for every value of every request.
    """
    kept = _readers.get((id(dialect), id(attribute), whole))
    if kept is None:
        made = _list_reader(dialect, attribute) if whole else _one_reader(dialect, attribute)
        kept = _readers[id(dialect), id(attribute), whole] = (dialect, attribute, made)
    return kept[2]


def _list_reader(dialect: Dialect, attribute: Attribute) -> Reader:
    rules, one = dialect.rules_for(attribute), _reader(dialect, attribute, False)
    unique_primary = attribute.is_complex

    def read_list(value: object, where: str) -> object:
        for rule in rules:
            value = rule(attribute, value)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        read = [one(item, f"{where}[{i}]") for i, item in enumerate(items)]
        values = [element for element in read if element is not None]
        if unique_primary and sum(1 for v in values if isinstance(v, dict) and v.get("primary") is True) > 1:
            # RFC 7643 §2.4: "The primary attribute value true MUST appear no more than once."
            raise InvalidValue(f"{where} has more than one value with primary true")
        return values or None

    return read_list


def _one_reader(dialect: Dialect, attribute: Attribute) -> Reader:
    rules = dialect.rules_for(attribute)
    check = _complex_reader(dialect, attribute) if attribute.is_complex else scalar_reader(attribute)

    def read_one(value: object, where: str) -> object:
        for rule in rules:
            value = rule(attribute, value)
        return None if value is None else check(attribute, value, where)

    return read_one


def _complex_reader(dialect: Dialect, attribute: Attribute) -> ScalarReader:
    """Return the check of one complex value, an object of ``attribute``'s sub-attributes, as a scalar's."""
    subs: dict[str, tuple[Attribute, Reader | None]] = {}
    for sub in attribute.sub_attributes:
        # A readOnly sub-attribute's value is ignored (RFC 7643 §2.2): it has no reader.
        ignored = sub.mutability == "readOnly"
        subs[sub.name.lower()] = (sub, None if ignored else _reader(dialect, sub, sub.multi_valued))
    required = tuple(sub.name for sub in attribute.sub_attributes if sub.required)

    def read_complex(_: Attribute, value: object, where: str) -> object:
        if not isinstance(value, dict):
            raise InvalidValue(f"{where} must be an object of sub-attributes, not {json_kind(value)}")
        read: dict[str, object] = {}
        seen: set[str] = set()
        for key, item in value.items():
            found = subs.get(key.lower())
            if found is None:
                raise InvalidValue(f"'{key}' is not a sub-attribute of {where}")
            sub, reader = found
            if sub.name in seen:
                raise InvalidValue(f"{where}.{sub.name} is named twice")
            seen.add(sub.name)
            if reader is not None and (sub_value := reader(item, f"{where}.{sub.name}")) is not None:
                read[sub.name] = sub_value
        if not read:
            return None
        missing = next((name for name in required if name not in read), None)
        if missing is not None:
            raise InvalidValue(f"{where}.{missing} is required")
        return read

    return read_complex
