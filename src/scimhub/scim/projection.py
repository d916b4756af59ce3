"""Partial representations: ``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9).

A ``Projection`` is read once per request and applied to every full
representation the request returns. It honours each attribute's ``returned``
characteristic (RFC 7643 §7), read from ``schema.py``:

- ``always`` (``id``) is kept whatever the parameters say, and so is ``schemas``;
- ``never`` (``password``) is always dropped;
- ``default`` is kept unless ``attributes`` leaves it out or ``excludedAttributes``
  names it; ``meta`` is one of these (RFC 7643 §3.1);
- ``request`` is kept only when ``attributes`` names it, or names one of its
  sub-attributes; naming a parent does not request a ``request`` sub-attribute.

Names are standard attribute notation (RFC 7644 §3.10) in any case: ``userName``,
``name.givenName``, ``emails.value``, ``urn:…:enterprise:2.0:User:manager``; a bare
schema URN names every attribute of that schema, so ``attributes=urn:…:enterprise:2.0:User``
returns the whole extension object. An extension URN stays in ``schemas`` only
while its object survives the projection.

Decisions where the RFCs are silent:

- A well-formed name that names nothing here (``nickname.foo``, another vendor's
  extension) is ignored, not rejected: it asks for nothing this server has, and
  clients probe with their own schema. Text that is not a list of names at all
  (an unclosed ``[`` or string) is rejected with ``InvalidValue``.
- ``attributes=emails[type eq "work"]`` (Microsoft's reference tests send it) is
  read as ``emails``, and ``emails[type eq "work"].value`` as ``emails.value``: the
  filter is not evaluated, so the answer is a superset of what was asked. In
  ``excludedAttributes`` the same form is rejected, because widening an exclusion
  would hide values the client did not ask to hide.
- Sending both parameters is rejected: §3.9 calls them "mutually exclusive".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from scimhub.errors import InvalidPath, InvalidValue
from scimhub.query.paths import AttrRef, resolve
from scimhub.query.schema import COMMON, Attribute, ResourceType
from scimhub.scim.attribute_lists import (
    attribute_key,
    check_size,
    read_attribute_list,
)

_Rule = frozenset[str] | None
"""How much of a kept attribute survives: None for all of it, else the lower-cased
names of the sub-attributes kept."""

_Plan = dict[str, _Rule]
"""The attributes kept at one level (core, or one extension), by lower-cased name."""


class _Drop(Enum):
    """The rule of an attribute the response leaves out."""

    DROP = "drop"


_DROP = _Drop.DROP


@dataclass(frozen=True)
class Projection:
    """Which attributes a response keeps, decided once per request (RFC 7644 §3.9).

    Build it with ``Projection.read`` from the request's parameters, or directly
    from resolved names; ``Projection(resource_type)`` is the default
    representation, which still drops ``never`` and ``request`` attributes.
    """

    resource_type: ResourceType
    attributes: tuple[AttrRef, ...] | None = None
    """The names of ``attributes``; None when the parameter was not sent."""
    excluded_attributes: tuple[AttrRef, ...] = ()
    """The names of ``excludedAttributes``."""
    _core: _Plan = field(init=False, repr=False, compare=False)
    """The top-level attributes kept: the common ones and the core schema's."""
    _extensions: dict[str, _Plan] = field(init=False, repr=False, compare=False)
    """The attributes kept of each extension, by lower-cased URN."""
    _defined: frozenset[str] = field(init=False, repr=False, compare=False)
    """The lower-cased top-level keys the schemas define, extension URNs included."""

    def __post_init__(self) -> None:
        if self.attributes is not None and self.excluded_attributes:
            raise ValueError("attributes and excluded_attributes are mutually exclusive")
        named = _selections(self.attributes or self.excluded_attributes)
        top = (*COMMON, *self.resource_type.schema.attributes)
        extensions = {ext.id.lower(): ext.attributes for ext in self.resource_type.extensions}
        # The dataclass is frozen so that a projection can be shared; these fields
        # are derived once, here, and never change afterwards.
        object.__setattr__(self, "_core", self._plan(named, "", top))
        plans = {urn: self._plan(named, urn, attributes) for urn, attributes in extensions.items()}
        object.__setattr__(self, "_extensions", plans)
        object.__setattr__(self, "_defined", frozenset(a.name.lower() for a in top) | frozenset(extensions))

    @classmethod
    def read(
        cls,
        resource_type: ResourceType,
        attributes: str | Sequence[str] | None = None,
        excluded_attributes: str | Sequence[str] | None = None,
    ) -> Projection:
        """Return the projection that the request's ``attributes`` or ``excludedAttributes`` ask for.

        Projections are immutable and a client asks for the same few again and
        again: the last ``_REMEMBERED`` are kept, as planning one costs more than
        the search it shapes.

        :raises InvalidValue: When both are sent, when either is malformed
            (see ``read_attribute_list``), or longer than ``MAX_NAMES_LENGTH``
            characters or ``MAX_NAMES`` names.
        """
        for names, parameter in ((attributes, "attributes"), (excluded_attributes, "excludedAttributes")):
            check_size(names, parameter)
        return _read(resource_type, _hashable(attributes), _hashable(excluded_attributes))

    def wants(self, name: str) -> bool:
        """Tell whether the response keeps ``name`` (or part of it), so the caller may skip loading it.

        ``name`` is in standard attribute notation, any case: ``wants("members")``
        is False under ``excludedAttributes=members``, so Group members need not be read.

        :raises ValueError: When ``name`` is no attribute of the resource type: a
            programming error, not bad input.
        """
        try:
            ref = resolve(self.resource_type, name, error=InvalidPath)
        except InvalidPath as error:
            raise ValueError(error.detail) from None
        owner, attribute, *sub = attribute_key(ref)
        plan = self._extensions[owner] if owner else self._core
        if attribute not in plan:
            return False
        rule = plan[attribute]
        return not sub or rule is None or sub[0] in rule

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Return the projected copy of a full representation (see the module docstring).

        ``resource`` uses canonical names (docs/conventions.md) and is
        not modified; values kept whole are shared with it, not copied. Keys that
        no schema defines are kept unless ``attributes`` was sent.
        """
        result: dict[str, Any] = {}
        for key, value in resource.items():
            lowered = key.lower()
            if lowered == "schemas":
                result[key] = value
            elif lowered in self._extensions:
                # An extension object left empty goes, and its URN with it, below.
                plan = self._extensions[lowered]
                extension = _project_object(value, plan) if isinstance(value, dict) else {}
                if extension:
                    result[key] = extension
            elif lowered in self._core:
                kept = _project_value(value, self._core[lowered])
                if kept is not None:
                    result[key] = kept
            elif self.attributes is None and lowered not in self._defined:
                result[key] = value
        schemas = result.get("schemas")
        if isinstance(schemas, list):
            present = {key.lower() for key in result}
            result["schemas"] = [
                urn
                for urn in schemas
                if not isinstance(urn, str) or urn.lower() not in self._extensions or urn.lower() in present
            ]
        return result

    def _plan(
        self, named: dict[tuple[str, str], _Selection], owner: str, attributes: Sequence[Attribute]
    ) -> _Plan:
        """Return the rule of each kept attribute of one level: "" (top) or an extension URN."""
        plan: _Plan = {}
        for attribute in attributes:
            selection = named.get((owner, attribute.name.lower()))
            if self.attributes is not None:
                rule = _included(attribute, selection)
            else:
                rule = _not_excluded(attribute, selection)
            if rule is not _DROP:
                plan[attribute.name.lower()] = rule
        return plan


_REMEMBERED = 256


def _hashable(names: str | Sequence[str] | None) -> str | tuple[str, ...] | None:
    return names if names is None or isinstance(names, str) else tuple(names)


@lru_cache(maxsize=_REMEMBERED)
def _read(
    resource_type: ResourceType,
    attributes: str | tuple[str, ...] | None,
    excluded: str | tuple[str, ...] | None,
) -> Projection:
    included = read_attribute_list(resource_type, attributes, "attributes")
    excluded_refs = read_attribute_list(resource_type, excluded, "excludedAttributes")
    if included is not None and excluded_refs is not None:
        raise InvalidValue(
            "attributes and excludedAttributes are mutually exclusive (RFC 7644 §3.9); send one of them"
        )
    return Projection(resource_type, included, excluded_refs or ())


@dataclass
class _Selection:
    """What a parameter names of one attribute: all of it, or some sub-attributes."""

    whole: bool = False
    subs: set[str] = field(default_factory=set)


def _selections(refs: tuple[AttrRef, ...]) -> dict[tuple[str, str], _Selection]:
    """Group names by the attribute they fall under: (owner, attribute) → what is named of it."""
    selections: dict[tuple[str, str], _Selection] = {}
    for ref in refs:
        owner, attribute, *sub = attribute_key(ref)
        selection = selections.setdefault((owner, attribute), _Selection())
        if sub:
            selection.subs.add(sub[0])
        else:
            selection.whole = True
    return selections


def _included(attribute: Attribute, selection: _Selection | None) -> _Rule | _Drop:
    """Return the rule for ``attribute`` when ``attributes`` was sent."""
    if attribute.returned == "never":
        return _DROP
    if attribute.returned != "always" and selection is None:
        return _DROP
    whole = attribute.returned == "always" or (selection is not None and selection.whole)
    named = selection.subs if selection is not None else set()
    return _sub_rule(
        attribute,
        lambda sub: (
            sub.returned == "always" or sub.name.lower() in named or (whole and sub.returned == "default")
        ),
    )


def _not_excluded(attribute: Attribute, exclusion: _Selection | None) -> _Rule | _Drop:
    """Return the rule for ``attribute`` when ``attributes`` was not sent."""
    if attribute.returned in ("never", "request"):
        return _DROP
    if attribute.returned == "always":
        return _sub_rule(attribute, lambda sub: sub.returned in ("always", "default"))
    if exclusion is not None and exclusion.whole:
        return _DROP
    excluded = exclusion.subs if exclusion is not None else set()
    return _sub_rule(
        attribute,
        lambda sub: (
            sub.returned == "always" or (sub.returned == "default" and sub.name.lower() not in excluded)
        ),
    )


def _sub_rule(attribute: Attribute, keeps: Callable[[Attribute], bool]) -> _Rule | _Drop:
    """Return None when every sub-attribute is kept, else the names kept; drop when none is."""
    if not attribute.sub_attributes:
        return None
    subs = attribute.sub_attributes
    kept = frozenset(sub.name.lower() for sub in subs if sub.returned != "never" and keeps(sub))
    if not kept:
        return _DROP
    return None if len(kept) == len(subs) else kept


def _project_value(value: Any, rule: _Rule) -> Any:
    """Return ``value`` narrowed to ``rule``, or None when nothing of it is left."""
    if rule is None:
        return value
    if isinstance(value, dict):
        return _project_object(value, dict.fromkeys(rule)) or None
    if isinstance(value, list):
        elements = [_project_value(element, rule) for element in value]
        return [element for element in elements if element is not None] or None
    return value


def _project_object(value: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """Return the keys of ``value`` that ``plan`` keeps, each narrowed to its rule."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        lowered = key.lower()
        if lowered in plan:
            kept = _project_value(item, plan[lowered])
            if kept is not None:
                result[key] = kept
    return result
