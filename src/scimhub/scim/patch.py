"""PATCH (RFC 7644 §3.5.2): read a PatchOp message, apply it to a stored document.

``read_patch`` checks the message and parses its paths before the resource is
loaded; ``apply_patch`` applies the operations in order to a copy of the document,
so any error leaves the stored resource as it was (RFC 7644 §3.5.2: "A PATCH
request, regardless of the number of operations, SHALL be treated as atomic").
Values are read with ``values.py``, so PATCH accepts and refuses exactly what
POST and PUT do.

Group members are rows, not part of the document, and a PATCH must not load them
(DESIGN §4: member PATCH cost does not grow with group size). Member operations
therefore yield a ``MemberChange`` delta, and only selections that name member ids
(``members[value eq "id" or value eq "id2"]``) can be evaluated; any other member
filter is refused with invalidFilter, and so are paths to member sub-attributes
(``members[…].display``) and filters in a member add or replace (invalidPath).

Decisions, each a tolerance of the RFC text or a reading of it:

- ``op`` and the message's member names match in any case (Entra sends ``Replace``);
  a missing ``schemas`` is accepted, a ``schemas`` without the PatchOp URN is not.
- At most ``MAX_OPERATIONS`` operations per message; more is refused as a payload
  too large (413), as RFC 7644 §3.7.4 does for bulk ``maxOperations``.
- ``remove`` needs a path (noTarget, §3.5.2.2). A remove whose filter matches
  nothing, or whose target is already unassigned, succeeds: clients re-send removes.
- ``remove`` of a multi-valued attribute *with* a value removes exactly the elements
  the value lists (Entra's member removal; never "clear all"), ``Dialect.remove_by_value``.
- ``add``/``replace`` through an equality filter that matches nothing creates the
  element the filter describes (``emails[type eq "work"].value``, Entra quirk 4.3 #5),
  ``Dialect.create_unmatched``; any other unmatched filter is noTarget (§3.5.2.3).
- ``replace`` through a filter without a sub-attribute replaces the matching
  elements whole (§3.5.2.3: "all matching record values will be replaced"); on a
  complex single-valued attribute it merges sub-attributes (same section).
- ``replace`` with null unassigns its target (RFC 7643 §2.5); ``add`` needs a value.
- A path that is an extension's URN alone (``urn:…:enterprise:2.0:User``) names the
  extension's JSON container (RFC 7643 §3), as it does in ``attributes``: add and
  replace act as the path-less form ``{urn: value}``, and remove unassigns every
  attribute of the extension.
- ``add`` does not append a value already there, compared as the schema compares
  (case-insensitively unless caseExact, §3.5.2.1: "no changes SHALL be made").
- ``emails.type`` (a sub-attribute of a multi-valued attribute, no filter) acts on
  every value, on none when there is none.
- A filter on a single-valued complex attribute (Entra's ``manager[value eq "x"]``,
  which the path parser accepts) sees the value as a list of one, or of none.
- A value written with ``primary`` true unmarks the others (§3.5.2: "SHALL cause
  the server to automatically set primary to false for any other values"); one
  operation marking two values primary is invalidValue (RFC 7643 §2.4).
- A path naming a readOnly attribute, or a readOnly key in a path-less value, is a
  mutability error; so is changing an assigned immutable attribute. The password
  may be set, not removed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from scimhub.errors import (
    InvalidFilter,
    InvalidInput,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
)
from scimhub.scim.filters import (
    And,
    Compare,
    Filter,
    Or,
    PatchPath,
    matches,
    parse_patch_path,
)
from scimhub.scim.paths import AttrRef, split_urn
from scimhub.scim.schema import PATCH_OP, Attribute, ResourceType, Schema
from scimhub.scim.values import (
    DEFAULT,
    Dialect,
    check_required,
    is_members,
    is_password,
    read_assignments,
    read_members,
    read_value,
)

MAX_OPERATIONS = 1000
"""The most operations one PATCH may carry; Entra sends a few per user, and batches
group members many to an operation."""

OpName = Literal["add", "remove", "replace"]
_Element = dict[str, Any]
"""One value of a complex attribute, as stored."""


@dataclass(frozen=True)
class Operation:
    """One operation of a PatchOp message, checked (RFC 7644 §3.5.2)."""

    index: int
    """Its position in ``Operations``, named in error details."""
    op: OpName
    path: PatchPath | None
    """The parsed path; None targets the resource itself (or a whole extension, see
    ``_whole_extension``), and ``value`` is then an object of attributes."""
    value: object = None
    """The value as sent; None when absent or null."""


@dataclass(frozen=True)
class MemberChange:
    """What a PATCH does to a Group's member rows, as a delta.

    Apply it as: delete all rows when ``clear``, then delete ``remove``, then insert
    ``add``; ``add`` and ``remove`` never share an id, so the order between them
    cannot matter.
    """

    clear: bool = False
    add: list[dict[str, str]] = field(default_factory=list)
    """Members to insert (``{value, type?, display?}``), in the order sent."""
    remove: set[str] = field(default_factory=set)
    """Ids of members to delete."""


@dataclass(frozen=True)
class PatchResult:
    """The outcome of a PATCH: the new document and what lives outside it."""

    doc: dict[str, Any]
    """The new document, canonical (docs/CONVENTIONS-FOR-HELPERS.md)."""
    password: str | None = None
    """The new password when an operation set one."""
    members: MemberChange | None = None
    """The member delta, None when no operation touched ``members``."""


def read_patch(
    resource_type: ResourceType, body: object, *, max_operations: int = MAX_OPERATIONS
) -> list[Operation]:
    """Check a PatchOp message and parse the paths of its operations (RFC 7644 §3.5.2).

    :raises InvalidSyntax: When the message is not a PatchOp object.
    :raises InvalidValue: When an operation is unknown or lacks its value.
    :raises InvalidPath: When a path does not parse or names no attribute.
    :raises InvalidFilter: When a member filter selects by more than ids.
    :raises NoTarget: When a remove has no path.
    :raises Mutability: When a path names a readOnly attribute.
    :raises PayloadTooLarge: When there are more than ``max_operations`` operations.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"a PATCH body must be a PatchOp JSON object, not {_kind(body)}")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if schemas is not None:
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise InvalidSyntax("schemas must be a list of schema URI strings")
        if PATCH_OP.lower() not in (s.lower() for s in schemas):
            raise InvalidSyntax(f"schemas must contain {PATCH_OP}")
    operations = fields.get("operations")
    if not isinstance(operations, list):
        raise InvalidSyntax("a PatchOp needs an Operations array")
    if not operations:
        raise InvalidValue("Operations must hold at least one operation")
    if len(operations) > max_operations:
        raise PayloadTooLarge(
            f"Operations holds {len(operations)} operations; at most {max_operations} are accepted"
        )
    read = []
    for index, item in enumerate(operations):
        try:
            read.append(_read_operation(resource_type, index, item))
        except InvalidInput as error:
            raise type(error)(f"Operations[{index}]: {error.detail}") from error
    return read


def apply_patch(
    resource_type: ResourceType,
    doc: dict[str, Any],
    operations: Sequence[Operation],
    *,
    dialect: Dialect = DEFAULT,
) -> PatchResult:
    """Apply ``operations`` in order to a copy of ``doc`` (RFC 7644 §3.5.2).

    ``doc`` is never changed; any error aborts the whole PATCH.

    :raises InvalidValue: When a value does not fit its target, or the result lacks
        a required attribute or has two primary values.
    :raises NoTarget: When a filter matches nothing and describes no element.
    :raises InvalidFilter: When a member filter selects by more than ids.
    :raises Mutability: When an operation changes what may not change.
    """
    state = _State(resource_type, copy.deepcopy(doc), dialect)
    for operation in operations:
        try:
            _apply(state, operation)
        except InvalidInput as error:
            raise type(error)(f"Operations[{operation.index}]: {error.detail}") from error
    check_required(resource_type, state.doc)
    members = None
    if state.members is not None:
        members = MemberChange(state.members.clear, list(state.members.add.values()), state.members.remove)
    return PatchResult(state.doc, state.password, members)


@dataclass
class _MemberDelta:
    """The member delta being built; ``add`` keyed by id keeps it free of duplicates."""

    clear: bool = False
    add: dict[str, dict[str, str]] = field(default_factory=dict)
    remove: set[str] = field(default_factory=set)

    def add_members(self, members: list[dict[str, str]]) -> None:
        for member in members:
            self.remove.discard(member["value"])
            self.add[member["value"]] = member

    def remove_members(self, ids: set[str] | None) -> None:
        if ids is None:  # all of them
            self.clear, self.add, self.remove = True, {}, set()
            return
        for member_id in ids:
            self.add.pop(member_id, None)
            if not self.clear:  # after a clear the stored rows are gone already
                self.remove.add(member_id)


@dataclass
class _State:
    resource_type: ResourceType
    doc: dict[str, object]
    dialect: Dialect
    password: str | None = None
    members: _MemberDelta | None = None


@dataclass(frozen=True)
class _Target:
    """Where an operation acts: an attribute, maybe filtered, maybe a sub-attribute."""

    ref: AttrRef
    """The attribute, without sub-attribute."""
    filter: Filter | None = None
    sub: Attribute | None = None

    def __str__(self) -> str:
        return str(self.ref.with_sub(self.sub))


def _read_operation(resource_type: ResourceType, index: int, item: object) -> Operation:
    if not isinstance(item, dict):
        raise InvalidSyntax(f"an operation must be an object, not {_kind(item)}")
    fields = {key.lower(): value for key, value in item.items()}
    op = fields.get("op")
    if not isinstance(op, str):
        raise InvalidSyntax("op is required: add, remove or replace")
    if op.lower() not in ("add", "remove", "replace"):
        raise InvalidValue(f"{op!r} is not a PATCH operation: add, remove or replace")
    name: OpName = op.lower()  # type: ignore[assignment]
    text = fields.get("path")
    if text is not None and not isinstance(text, str):
        raise InvalidSyntax(f"path must be a string, not {_kind(text)}")
    value = fields.get("value")
    if name == "remove" and not (text and text.strip()):
        raise NoTarget("remove needs a path (RFC 7644 §3.5.2.2)")
    if name != "remove" and ("value" not in fields or (name == "add" and value is None)):
        raise InvalidValue(f"{name} needs a value")
    if not (text and text.strip()):
        if not isinstance(value, dict):
            raise InvalidValue(f"without a path, the value of {name} must be an object of attributes")
        return Operation(index, name, None, value)
    extension = _whole_extension(resource_type, text.strip())
    if extension is not None:
        if name == "remove" and value is not None:
            raise InvalidValue(f"remove takes no value; it removes all of {extension.id}")
        # ``{urn: null}`` unassigns all of the extension's attributes (values.py)
        return Operation(index, name, None, {extension.id: value})
    path = parse_patch_path(resource_type, text.strip())
    _check_path(name, _target(path), value)
    return Operation(index, name, path, value)


def _whole_extension(resource_type: ResourceType, text: str) -> Schema | None:
    """Return the extension schema whose URN alone, in any case, is ``text``; else None."""
    try:
        schema, rest = split_urn(resource_type, text)
    except LookupError:
        return None  # not a schema of this resource type: the path parser says so
    return schema if schema is not None and schema is not resource_type.schema and not rest else None


def _target(path: PatchPath) -> _Target:
    return _Target(path.attribute.with_sub(None), path.value_filter, path.sub or path.attribute.sub)


def _check_path(op: OpName, target: _Target, value: object) -> None:
    """Refuse what a path alone makes impossible, before the resource is loaded."""
    attribute = target.ref.attribute
    if attribute.mutability == "readOnly" or (target.sub and target.sub.mutability == "readOnly"):
        raise Mutability(f"{target} is readOnly")
    if target.filter is not None and not (attribute.multi_valued or attribute.is_complex):
        raise InvalidPath(f"{attribute.name} is neither multi-valued nor complex, so it takes no filter")
    if is_password(target.ref) and (op == "remove" or value is None):
        raise Mutability("password can be replaced but not removed")
    if not is_members(target.ref):
        return
    if target.sub is not None:
        raise InvalidPath("members are added or removed whole; their sub-attributes cannot be patched")
    if target.filter is not None and op != "remove":
        raise InvalidPath(f"{op} members takes a list of members, not a filter")
    if target.filter is not None:
        _member_ids(target.filter)


def _member_ids(selection: Filter) -> set[str]:
    """Return the ids ``value eq "id" [or value eq "id2" …]`` selects.

    :raises InvalidFilter: For any other filter, which would need the members loaded.
    """
    ids: set[str] = set()
    pending = [selection]  # a loop, not recursion: a long ``or`` chain nests deep
    while pending:
        node = pending.pop()
        if isinstance(node, Or):
            pending += (node.left, node.right)
        elif (
            isinstance(node, Compare)
            and node.op == "eq"
            and node.path.sub is not None
            and node.path.sub.name == "value"
            and isinstance(node.value, str)
        ):
            ids.add(node.value)
        else:
            raise InvalidFilter(
                'members can only be selected by id: members[value eq "id" or value eq "id2"]'
            )
    return ids


def _apply(state: _State, operation: Operation) -> None:
    if operation.path is None:
        assert isinstance(operation.value, dict)  # read_patch checked it
        for assignment in read_assignments(
            state.resource_type, operation.value, read_only="reject", dialect=state.dialect
        ):
            if operation.op == "add" and (assignment.value is None or assignment.sent is None):
                continue  # nothing to add
            target = _Target(assignment.ref.with_sub(None), None, assignment.ref.sub)
            if operation.op == "remove":  # of a whole extension: every value is None
                _remove(state, target)
            else:
                _apply_read(state, operation.op, target, assignment.value, assignment.sent)
        return
    target = _target(operation.path)
    if is_members(target.ref):
        _apply_members(state, operation.op, target, operation.value)
        return
    if operation.op == "remove":
        if operation.value is not None:
            _remove_by_value(state, target, operation.value)
        else:
            _remove(state, target)
        return
    attribute = target.sub or target.ref.attribute
    value = read_value(
        target.ref.with_sub(target.sub),
        operation.value,
        element=target.filter is not None and target.sub is None,
        dialect=state.dialect,
    )
    _apply_read(state, operation.op, target, value, operation.value if attribute.is_complex else None)


def _apply_read(state: _State, op: OpName, target: _Target, value: object, raw: object) -> None:
    """Apply add or replace of a value already read; a None value unassigns."""
    if is_members(target.ref):
        _apply_members(state, op, target, value, read=True)
    elif is_password(target.ref):
        if value is None:
            raise Mutability("password can be replaced but not removed")
        state.password = str(value)
    elif value is None:
        if op == "replace":
            _remove(state, target)
    else:
        _write(state, op, target, value, raw)


def _apply_members(state: _State, op: OpName, target: _Target, value: object, read: bool = False) -> None:
    delta = state.members = state.members or _MemberDelta()
    if op == "remove":
        if target.filter is not None:
            delta.remove_members(_member_ids(target.filter))
        elif value is None:
            delta.remove_members(None)  # RFC 7644 §3.5.2.2: no filter, all values
        elif state.dialect.remove_by_value:
            delta.remove_members({m["value"] for m in read_members(value, dialect=state.dialect)})
        else:
            raise InvalidValue('remove takes no value; select members with members[value eq "id"]')
        return
    members = value if read else read_members(value, dialect=state.dialect)
    assert isinstance(members, list)
    if op == "replace":
        delta.remove_members(None)
    delta.add_members(members)


def _write(state: _State, op: OpName, target: _Target, value: object, raw: object) -> None:
    """Apply add or replace (RFC 7644 §3.5.2.1, §3.5.2.3) of a non-null value."""
    attribute, sub = target.ref.attribute, target.sub
    container = _container(state.doc, target.ref, create=True)
    assert container is not None
    before = copy.deepcopy(container.get(attribute.name))
    current = container.get(attribute.name)
    if attribute.multi_valued or target.filter is not None:
        # a filter on a single-valued complex attribute (Entra's manager[value eq "x"])
        # sees its value as a list of one, or of none
        elements = _as_list(current)
        written = _write_elements(state, op, target, elements, value)
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
    _tidy(state.doc, target.ref)


def _write_elements(
    state: _State, op: OpName, target: _Target, elements: list[object], value: object
) -> list[_Element]:
    """Write ``value`` into a multi-valued attribute; return the elements written."""
    sub = target.sub
    if target.filter is None and sub is None:
        assert isinstance(value, list)
        if op == "replace":
            elements[:] = value
            return [e for e in elements if isinstance(e, dict)]
        new: list[object] = []  # RFC 7644 §3.5.2.1: a value already there is not added again
        for item in value:
            if not any(_same(target.ref.attribute, item, e) for e in elements):
                elements.append(item)
                new.append(item)
        return [e for e in new if isinstance(e, dict)]
    matched: list[_Element] = [
        e for e in elements if isinstance(e, dict) and (target.filter is None or _matches(target.filter, e))
    ]
    if not matched and target.filter is None:
        return []  # ``emails.type`` sets the type of every email, of none when there is none
    if not matched:
        created = _create_element(state, target, value)
        elements.append(created)
        return [created]
    for index, element in enumerate(elements):
        if not any(element is m for m in matched):
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


def _create_element(state: _State, target: _Target, value: object) -> _Element:
    """Return the element an unmatched equality filter describes, with ``value`` in it.

    :raises NoTarget: When creating it is not allowed or the filter is no equality.
    """
    assert target.filter is not None
    described = _described(target.filter, state.dialect) if state.dialect.create_unmatched else None
    if described is None:
        raise NoTarget(f"no value of {target.ref} matches the filter")
    written = {target.sub.name: value} if target.sub is not None else value
    assert isinstance(written, dict)
    element = {**described, **written}
    if not _matches(target.filter, element):
        raise InvalidValue(f"the value contradicts the filter on {target.ref}")
    return element


def _described(selection: Filter, dialect: Dialect) -> dict[str, object] | None:
    """Return the sub-attribute values ``a eq x and b eq y`` pins, None for other filters."""
    if isinstance(selection, And):
        left, right = _described(selection.left, dialect), _described(selection.right, dialect)
        if left is None or right is None or any(left[k] != right[k] for k in left.keys() & right.keys()):
            return None
        return {**left, **right}
    if (
        isinstance(selection, Compare)
        and selection.op == "eq"
        and selection.path.sub is not None
        and not isinstance(selection.value, datetime)  # the parser's instant, no longer as sent
    ):
        value = read_value(selection.path, selection.value, where=str(selection.path), dialect=dialect)
        return None if value is None else {selection.path.sub.name: value}
    return None


def _same(attribute: Attribute, left: object, right: object) -> bool:
    """Tell whether two values are equal as the schema compares them (caseExact, RFC 7643 §2.3)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            _same(attribute.sub(key) or attribute, left[key], right[key]) for key in left
        )
    if isinstance(left, str) and isinstance(right, str) and not attribute.case_exact:
        return left.casefold() == right.casefold()
    return left == right


def _settle_primary(target: _Target, elements: list[object], written: list[_Element]) -> None:
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


def _remove(state: _State, target: _Target) -> None:
    """Apply remove (RFC 7644 §3.5.2.2); removing what is not there succeeds."""
    attribute, sub = target.ref.attribute, target.sub
    container = _container(state.doc, target.ref, create=False)
    if container is None or attribute.name not in container:
        return
    before = copy.deepcopy(container[attribute.name])
    current = container[attribute.name]
    if attribute.multi_valued or target.filter is not None:
        kept = []
        for element in _as_list(current):
            if isinstance(element, dict) and (target.filter is None or _matches(target.filter, element)):
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
    _tidy(state.doc, target.ref)


def _as_list(value: object) -> list[object]:
    """Return the values of an attribute as a new list: a single value is a list of one."""
    if isinstance(value, list):
        return list(value)
    return [] if value is None else [value]


def _remove_by_value(state: _State, target: _Target, value: object) -> None:
    """Remove the elements ``value`` lists, matched on every sub-attribute it gives."""
    attribute = target.ref.attribute
    if not (state.dialect.remove_by_value and attribute.multi_valued and attribute.is_complex) or (
        target.filter is not None or target.sub is not None
    ):
        raise InvalidValue("remove takes no value; a filter in the path selects what to remove")
    listed = read_value(target.ref, value, dialect=state.dialect) or []
    assert isinstance(listed, list)
    for item in listed:
        selection: Filter | None = None
        for key, sub_value in item.items():
            compare = Compare(target.ref.with_sub(attribute.sub(key)), "eq", sub_value)
            selection = compare if selection is None else And(selection, compare)
        if selection is not None:
            _remove(state, _Target(target.ref, selection))


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
    if create:
        inner = doc.setdefault(ref.schema.id, {})
    else:
        inner = doc.get(ref.schema.id)
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


def _matches(selection: Filter, element: _Element) -> bool:
    return matches(selection, element)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else f"a {type(value).__name__}"
