"""One PATCH edit (add, replace or remove) at one target of a stored document.

``patch.py`` reads the message and decides what each operation writes;
this module changes the document (a copy the PATCH owns), following RFC 7644
§3.5.2.1–§3.5.2.3 and these readings of them:

- ``add`` does not append a value already there, compared as the schema compares
  (case-insensitively unless caseExact, §3.5.2.1: "no changes SHALL be made").
- ``replace`` through a filter without a sub-attribute replaces the matching
  elements whole (§3.5.2.3: "all matching record values will be replaced"); on a
  complex single-valued attribute it merges sub-attributes (same section).
- add and replace through a filter that matches nothing create the element the
  filter describes when the dialect's unmatched rule describes one
  (``entra.describe_unmatched_element``, docs/entra-client.md quirk #5); otherwise noTarget.
- ``emails.type`` (a sub-attribute of a multi-valued attribute, no filter) acts on
  every value, on none when there is none.
- A filter on a single-valued complex attribute (Entra's ``manager[value eq "x"]``)
  sees the value as a list of one, or of none.
- A value written with ``primary`` true unmarks the others (§3.5.2: "SHALL cause
  the server to automatically set primary to false for any other values"); one
  operation marking two values primary is invalidValue (RFC 7643 §2.4).
- Removing what is not there succeeds: clients re-send removes.
- Changing an assigned immutable attribute is a mutability error (RFC 7643 §2.2).
- What becomes empty is dropped: unassigned is absent (RFC 7643 §2.5).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from scimhub.errors import InvalidValue, Mutability, NoTarget
from scimhub.query.filter.evaluation import element_matcher
from scimhub.query.filter.tree import Filter
from scimhub.query.paths import AttrRef
from scimhub.query.schema import Attribute
from scimhub.scim.dialects import Dialect
from scimhub.scim.values import read_value

_Element = dict[str, Any]
"""One value of a complex attribute, as stored."""


@dataclass(frozen=True)
class Target:
    """Where an operation acts: an attribute, maybe filtered, maybe a sub-attribute."""

    ref: AttrRef
    """The attribute, without sub-attribute."""
    filter: Filter | None = None
    sub: Attribute | None = None

    def __str__(self) -> str:
        return str(self.ref.with_sub(self.sub))


def write(
    doc: dict[str, object],
    op: Literal["add", "replace"],
    target: Target,
    value: object,
    raw: object,
    dialect: Dialect,
) -> None:
    """Apply add or replace (RFC 7644 §3.5.2.1, §3.5.2.3) of a non-null value read for ``target``.

    ``raw`` is the value as sent when it is complex, so that a null sub-attribute
    in a replace unassigns it.

    :raises NoTarget: When a filter matches nothing and describes no element.
    :raises InvalidValue: When the result would have two primary values.
    :raises Mutability: When an assigned immutable value would change.
    """
    attribute, sub = target.ref.attribute, target.sub
    container = _container(doc, target.ref, create=True)
    assert container is not None
    before = _kept_for_immutability(attribute, container.get(attribute.name))
    current = container.get(attribute.name)
    if attribute.multi_valued or target.filter is not None:
        elements = _as_list(current)
        written = _write_elements(op, target, elements, value, dialect)
        if attribute.multi_valued:
            container[attribute.name] = elements
            _settle_primary(target, elements, written)
        elif len(elements) > 1:
            raise NoTarget(f"the value of {target.ref} does not match the filter")
        else:
            container[attribute.name] = elements[0] if elements else None
    elif sub is not None:
        container[attribute.name] = {**(current if isinstance(current, dict) else {}), sub.name: value}
    elif attribute.is_complex:
        assert isinstance(value, dict)
        merged = {**(current if isinstance(current, dict) else {}), **value}
        if op == "replace" and isinstance(raw, dict):  # null sub-attributes unassign
            for key, item in raw.items():
                found = attribute.sub(key)
                if item is None and found is not None:
                    merged.pop(found.name, None)
        container[attribute.name] = merged
    else:
        container[attribute.name] = value
    _check_immutable(attribute, before, container.get(attribute.name))
    _tidy(doc, target.ref)


def remove(doc: dict[str, object], target: Target) -> None:
    """Apply remove (RFC 7644 §3.5.2.2); removing what is not there succeeds.

    :raises Mutability: When an assigned immutable value would change.
    """
    attribute, sub = target.ref.attribute, target.sub
    container = _container(doc, target.ref, create=False)
    if container is None or attribute.name not in container:
        return
    before = _kept_for_immutability(attribute, container[attribute.name])
    current = container[attribute.name]
    if attribute.multi_valued or target.filter is not None:
        selected = element_matcher(target.filter) if target.filter is not None else None
        kept = []
        for element in _as_list(current):
            if isinstance(element, dict) and (selected is None or selected(element)):
                if sub is None:
                    continue
                element.pop(sub.name, None)
            kept.append(element)
        container[attribute.name] = kept if attribute.multi_valued else (kept[0] if kept else None)
    elif sub is None:
        del container[attribute.name]
    elif isinstance(current, dict):
        current.pop(sub.name, None)
    _check_immutable(attribute, before, container.get(attribute.name))
    _tidy(doc, target.ref)


def _write_elements(
    op: str, target: Target, elements: list[object], value: object, dialect: Dialect
) -> list[_Element]:
    """Write ``value`` into the elements of an attribute; return the elements written."""
    sub = target.sub
    if target.filter is None and sub is None:
        assert isinstance(value, list)
        if op == "replace":
            elements[:] = value
            return [e for e in elements if isinstance(e, dict)]
        new: list[object] = []  # RFC 7644 §3.5.2.1: a value already there is not added again
        present = {_identity(target.ref.attribute, e) for e in elements}
        for item in value:
            identity = _identity(target.ref.attribute, item)
            if identity not in present:
                present.add(identity)
                elements.append(item)
                new.append(item)
        return [e for e in new if isinstance(e, dict)]
    selected = element_matcher(target.filter) if target.filter is not None else None
    matched: list[_Element] = [
        e for e in elements if isinstance(e, dict) and (selected is None or selected(e))
    ]
    if not matched and target.filter is None:
        return []  # ``emails.type`` sets the type of every email, of none when there is none
    if not matched:
        created = _create_element(target, value, dialect)
        elements.append(created)
        return [created]
    chosen = {id(m) for m in matched}
    for index, element in enumerate(elements):
        if id(element) not in chosen:
            continue
        assert isinstance(element, dict)
        if sub is not None:
            element[sub.name] = value
        elif op == "add":
            assert isinstance(value, dict)
            element.update(value)
        else:
            assert isinstance(value, dict)
            replacement = copy.deepcopy(value)
            elements[index] = replacement
            matched = [replacement if m is element else m for m in matched]
    return matched


def _create_element(target: Target, value: object, dialect: Dialect) -> _Element:
    """Return the element an unmatched filter describes, with ``value`` in it.

    :raises NoTarget: When the dialect describes no element for the filter.
    :raises InvalidValue: When the element does not fit the attribute or the filter.
    """
    assert target.filter is not None
    described = dialect.unmatched(target.filter) if dialect.unmatched is not None else None
    if described is None:
        raise NoTarget(f"no value of {target.ref} matches the filter")
    written = {target.sub.name: value} if target.sub is not None else value
    assert isinstance(written, dict)
    element = read_value(target.ref, {**described, **written}, element=True, dialect=dialect)
    if not isinstance(element, dict) or not element_matcher(target.filter)(element):
        raise InvalidValue(f"the value contradicts the filter on {target.ref}")
    return element


def _identity(attribute: Attribute, value: object) -> object:
    """Return a key equal for two values exactly when the schema deems them equal (caseExact, RFC 7643 §2.3).

    A key, not a pairwise comparison, so that adding n values to m costs n + m, not n × m
    (ADR 0025). Objects compare key by key, strings case-folded unless caseExact.
    """
    if isinstance(value, dict):
        return frozenset(
            (key, _identity(attribute.sub(key) or attribute, item)) for key, item in value.items()
        )
    if isinstance(value, str) and not attribute.case_exact:
        return ("text", value.casefold())
    if isinstance(value, list):
        return ("list", tuple(_identity(attribute, item) for item in value))
    return value


def _kept_for_immutability(attribute: Attribute, value: object) -> object:
    """Return a copy of ``value`` when ``_check_immutable`` will need it, else None (a copy costs O(n))."""
    guarded = attribute.mutability == "immutable" or (
        attribute.is_complex
        and not attribute.multi_valued
        and any(sub.mutability == "immutable" for sub in attribute.sub_attributes)
    )
    return copy.deepcopy(value) if guarded else None


def _settle_primary(target: Target, elements: list[object], written: list[_Element]) -> None:
    """Keep one primary: a value written with primary true unmarks the others (RFC 7644 §3.5.2)."""
    marked = [e for e in written if e.get("primary") is True]
    if len(marked) > 1:
        raise InvalidValue(f"{target.ref} would have more than one value with primary true")
    for element in elements:
        if (
            marked
            and element is not marked[0]
            and isinstance(element, dict)
            and element.get("primary") is True
        ):
            element["primary"] = False


def _as_list(value: object) -> list[object]:
    """Return the values of an attribute as a new list: a single value is a list of one."""
    if isinstance(value, list):
        return list(value)
    return [] if value is None else [value]


def _check_immutable(attribute: Attribute, before: object, after: object) -> None:
    """Refuse changing an assigned immutable attribute or sub-attribute (RFC 7643 §2.2)."""
    if attribute.mutability == "immutable" and before is not None and before != after:
        raise Mutability(f"{attribute.name} is immutable")
    if attribute.is_complex and not attribute.multi_valued and isinstance(before, dict):
        now = after if isinstance(after, dict) else {}
        for sub in attribute.sub_attributes:
            if sub.mutability == "immutable" and sub.name in before and before[sub.name] != now.get(sub.name):
                raise Mutability(f"{attribute.name}.{sub.name} is immutable")


def _container(doc: dict[str, object], ref: AttrRef, *, create: bool) -> dict[str, object] | None:
    """Return the object that holds ``ref``'s attribute: the doc or its extension object."""
    if not ref.is_extension:
        return doc
    assert ref.schema is not None
    inner = doc.setdefault(ref.schema.id, {}) if create else doc.get(ref.schema.id)
    return inner if isinstance(inner, dict) else None


def _tidy(doc: dict[str, object], ref: AttrRef) -> None:
    """Drop what became empty: elements, the attribute, the extension (RFC 7643 §2.5)."""
    container = _container(doc, ref, create=False)
    if container is None:
        return
    name = ref.attribute.name
    value = container.get(name)
    if isinstance(value, list):
        value = [e for e in value if e not in ({}, None)]
        container[name] = value
    if value in ({}, [], None):
        container.pop(name, None)
    if ref.is_extension and not container:
        assert ref.schema is not None
        doc.pop(ref.schema.id, None)
