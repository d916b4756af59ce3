"""PATCH (RFC 7644 §3.5.2): read a PatchOp message, apply it to a stored document.

``read_patch`` checks the message and parses its paths before the resource is
loaded; ``apply_patch`` applies the operations in order to a copy of the document,
so any error leaves the stored resource as it was (RFC 7644 §3.5.2: "A PATCH
request, regardless of the number of operations, SHALL be treated as atomic").
Values are read with ``values.py``, so PATCH accepts and refuses exactly what
POST and PUT do; ``edits.py`` changes the document, ``members.py`` builds the
member delta (members are rows, never loaded by a PATCH).

A dialect (``dialects.py``) rewrites each raw operation before it is read, and
each value before it is checked: with ``DEFAULT``, Entra's ``Replace``, bare
``manager`` paths and member removal by a value array arrive here already in RFC
form (``entra.py``). Decisions, each a reading of the RFC text:

- The message's member names (``Operations``, ``op``, ``path``, ``value``) match in
  any case; a missing ``schemas`` is accepted, a ``schemas`` without the PatchOp
  URN is not.
- At most ``MAX_OPERATIONS`` operations per message; more is refused as a payload
  too large (413), as RFC 7644 §3.7.4 does for bulk ``maxOperations``.
- At most ``bounds.MAX_VALUES`` values in all operations together (invalidValue), and at
  most ``MAX_WORK`` element visits while applying them (tooMany): an operation on
  an attribute visits each stored element and each value sent, once per comparison
  of its filter (members excepted: they are rows); a stored element counts one visit more
  for each ``TEXT_PER_VISIT`` characters of its text, which each comparison may fold, and a
  comparison one more for each ``LITERAL_PER_COMPARISON`` characters of its value (``co``
  searches an element's text for it).
  Together with the filter bounds they keep the worst PATCH to tens of milliseconds of one
  worker (ADR 0025).
- ``remove`` needs a path (noTarget, §3.5.2.2) and takes no value: a server that
  ignored the value of ``remove members`` would remove every member.
- ``replace`` with null unassigns its target (RFC 7643 §2.5); ``add`` needs a value.
- A path that is an extension's URN alone (``urn:…:enterprise:2.0:User``) names the
  extension's JSON container (RFC 7643 §3), as it does in ``attributes``: add and
  replace act as the path-less form ``{urn: value}``, and remove unassigns every
  attribute of the extension.
- Member paths are limited to what runs without loading the members: no member
  sub-attributes (``members[…].display``), no filter in an add or replace, and
  removal selections by id only.
- A path naming a readOnly attribute is a mutability error, and so is a readOnly key
  in a path-less value unless it repeats the resource's own value (``unchanged``: its
  ``id``), which modifies nothing (RFC 7643 §7). Okta renames a group with a path-less
  replace of ``{"id": <the group's id>, "displayName": …}`` (docs/okta.md). The
  password may be set, not removed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from scimhub.errors import (
    InvalidInput,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
    TooMany,
)
from scimhub.query.filter.parser import parse_patch_path
from scimhub.query.filter.tree import Compare, PatchPath, Present, count_terms
from scimhub.query.paths import split_urn
from scimhub.query.schema import PATCH_OP, ResourceType, Schema
from scimhub.scim.bounds import MAX_VALUES, check_resource_values, check_values, count_values
from scimhub.scim.dialects import DEFAULT, Dialect
from scimhub.scim.edits import Target, remove, write
from scimhub.scim.members import MemberChange, MemberDelta, member_ids
from scimhub.scim.scalars import json_kind
from scimhub.scim.values import (
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

MAX_DOCUMENT_BYTES = 1_048_576
"""The most JSON a resource may hold after a PATCH: by default what a POST or PUT body may carry
(``Settings.max_body_bytes``, which the handler passes instead)."""

MAX_WORK = 10_000
"""The most element visits applying one PATCH may cost (see the module docstring). Group
members are rows, not visited: they count against ``MAX_VALUES`` only."""

TEXT_PER_VISIT = 1024
"""The characters of a stored element that count as one visit more. A value filter folds the
text it compares, so 620 filters over 15 emails of 65,000 characters cost seconds when each
element counted once (session 41's adversarial run); counted by their text, they are refused."""

LITERAL_PER_COMPARISON = 8
"""The characters of a comparison's value that count as one comparison more. ``co`` looks for the
value in each element's text, which for text under 2,500 characters CPython does in time
proportional to both lengths: five ``co`` of 1,015 characters over 999 emails of 2,030 took 1.4 s
when each comparison counted once (session 41's second adversarial run). Entra's value filters
compare a type (``type eq "work"``): one comparison, as before."""

OpName = Literal["add", "remove", "replace"]
_OP_NAMES: dict[str, OpName] = {"add": "add", "remove": "remove", "replace": "replace"}
"""Each PATCH operation name to its ``OpName``: the lookup that both checks and types it."""


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
class PatchResult:
    """The outcome of a PATCH: the new document and what lives outside it."""

    doc: dict[str, Any]
    """The new document, canonical (docs/conventions.md)."""
    password: str | None = None
    """The new password when an operation set one."""
    members: MemberChange | None = None
    """The member delta, None when no operation touched ``members``."""


def read_patch(
    resource_type: ResourceType,
    body: object,
    *,
    max_operations: int = MAX_OPERATIONS,
    max_values: int = MAX_VALUES,
    dialect: Dialect = DEFAULT,
) -> list[Operation]:
    """Check a PatchOp message and parse the paths of its operations (RFC 7644 §3.5.2).

    Each operation first goes through the dialect's operation rules; the
    operations one of them stands for keep its index.

    :raises InvalidSyntax: When the message is not a PatchOp object.
    :raises InvalidValue: When an operation is unknown or lacks its value.
    :raises InvalidPath: When a path does not parse or names no attribute.
    :raises InvalidFilter: When a member filter selects by more than ids.
    :raises NoTarget: When a remove has no path.
    :raises Mutability: When a path names a readOnly attribute.
    :raises PayloadTooLarge: When there are more than ``max_operations`` operations.
    :raises InvalidValue: When the operations carry more than ``max_values`` values.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"a PATCH body must be a PatchOp JSON object, not {json_kind(body)}")
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
    values = sum(count_values(item.get("value")) for item in operations if isinstance(item, dict))
    check_values(values, "the operations", max_values)
    read = []
    for index, item in enumerate(operations):
        try:
            if not isinstance(item, dict):
                raise InvalidSyntax(f"an operation must be an object, not {json_kind(item)}")
            raw = {str(key).lower(): value for key, value in item.items()}
            for rewritten in dialect.rewrite_operation(resource_type, raw):
                read.append(_read_operation(resource_type, index, rewritten))
        except InvalidInput as error:
            raise type(error)(f"Operations[{index}]: {error.detail}") from error
    return read


def apply_patch(
    resource_type: ResourceType,
    doc: dict[str, Any],
    operations: Sequence[Operation],
    *,
    dialect: Dialect = DEFAULT,
    max_work: int = MAX_WORK,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    unchanged: Mapping[str, object] | None = None,
) -> PatchResult:
    """Apply ``operations`` in order to a copy of ``doc`` (RFC 7644 §3.5.2).

    ``doc`` is never changed; any error aborts the whole PATCH. ``unchanged`` holds
    the resource's readOnly values outside ``doc`` (``{"id": …}``) that a path-less
    value may repeat.

    :raises InvalidValue: When a value does not fit its target, or the result lacks
        a required attribute, has two primary values, holds more than ``MAX_VALUES``
        values in its multi-valued attributes (as a POST or PUT may) or more than
        ``max_bytes`` of JSON (as a POST or PUT body may).
    :raises NoTarget: When a filter matches nothing and describes no element.
    :raises InvalidFilter: When a member filter selects by more than ids.
    :raises Mutability: When an operation changes what may not change.
    :raises TooMany: When applying the operations would visit more than ``max_work`` elements.
    """
    state = _State(copy.deepcopy(doc), dialect, max_work, unchanged or {})
    for operation in operations:
        try:
            _apply(resource_type, state, operation)
        except InvalidInput as error:
            raise type(error)(f"Operations[{operation.index}]: {error.detail}") from error
    check_required(resource_type, state.doc)
    check_resource_values(state.doc, "after this PATCH, the multi-valued attributes of the resource")
    _check_size(state.doc, max_bytes)
    members = state.members.freeze() if state.members is not None else None
    return PatchResult(state.doc, state.password, members)


@dataclass
class _State:
    doc: dict[str, object]
    dialect: Dialect
    max_work: int
    unchanged: Mapping[str, object]
    work: int = 0
    password: str | None = None
    members: MemberDelta | None = None

    def charge(self, target: Target, value: object) -> None:
        """Count the element visits of one edit at ``target`` (see the module docstring).

        :raises TooMany: When the PATCH has now cost more than ``max_work``.
        """
        container: object = self.doc
        for key in target.ref.with_sub(None).keys:
            container = container.get(key) if isinstance(container, dict) else None
        stored = sum(map(_visits, container)) if isinstance(container, list) else _visits(container)
        terms = count_terms(target.filter, _comparison_work) if target.filter is not None else 1
        self.work += (stored + count_values(value)) * terms
        if self.work > self.max_work:
            raise TooMany(
                f"applying this PATCH would visit more than {self.max_work} attribute values"
                f" (stored values, one more per {TEXT_PER_VISIT} characters of their text, and values"
                f" sent, times the comparisons of each filter, one more per {LITERAL_PER_COMPARISON}"
                " characters of their value); split it"
            )


def _check_size(doc: dict[str, Any], max_bytes: int) -> None:
    """Refuse a result larger than a POST or PUT body may be.

    One value written into every element (``replace emails.display``) made a 65 KB PATCH a 65 MB
    document, and five of them in one PATCH a 325 MB one, which PostgreSQL's jsonb refused with a
    500 (session 41's third adversarial run): the work bound counts what is visited, not written.
    """
    size = len(orjson.dumps(doc))
    if size > max_bytes:
        raise InvalidValue(
            f"the resource would be {size} bytes of JSON after this PATCH; a resource holds at most"
            f" {max_bytes}, as a POST or PUT body may (SCIMHUB_MAX_BODY_BYTES)"
        )


def _comparison_work(term: Compare | Present) -> int:
    """Return what one comparison costs: one, and one more per ``LITERAL_PER_COMPARISON`` characters."""
    value = term.value if isinstance(term, Compare) else None
    return 1 + len(value) // LITERAL_PER_COMPARISON if isinstance(value, str) else 1


def _visits(element: object) -> int:
    """Return what visiting a stored element costs: one, and one more per ``TEXT_PER_VISIT`` characters."""
    if element is None:
        return 0
    if isinstance(element, dict):
        length = sum(len(value) for value in element.values() if isinstance(value, str))
    else:
        length = len(element) if isinstance(element, str) else 0
    return 1 + length // TEXT_PER_VISIT


def _read_operation(resource_type: ResourceType, index: int, fields: dict[str, object]) -> Operation:
    op = fields.get("op")
    if not isinstance(op, str):
        raise InvalidSyntax("op is required: add, remove or replace")
    name = _OP_NAMES.get(op)
    if name is None:
        raise InvalidValue(f"{op!r} is not a PATCH operation: add, remove or replace")
    text = fields.get("path")
    if text is not None and not isinstance(text, str):
        raise InvalidSyntax(f"path must be a string, not {json_kind(text)}")
    value = fields.get("value")
    if name == "remove" and not (text and text.strip()):
        raise NoTarget("remove needs a path (RFC 7644 §3.5.2.2)")
    if name == "remove" and value is not None:
        raise InvalidValue("remove takes no value; a filter in the path selects what to remove")
    if name != "remove" and ("value" not in fields or (name == "add" and value is None)):
        raise InvalidValue(f"{name} needs a value")
    if not (text and text.strip()):
        if not isinstance(value, dict):
            raise InvalidValue(f"without a path, the value of {name} must be an object of attributes")
        return Operation(index, name, None, value)
    extension = _whole_extension(resource_type, text.strip())
    if extension is not None:
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


def _target(path: PatchPath) -> Target:
    return Target(path.attribute.with_sub(None), path.value_filter, path.sub or path.attribute.sub)


def _check_path(op: OpName, target: Target, value: object) -> None:
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
        member_ids(target.filter)


def _apply(resource_type: ResourceType, state: _State, operation: Operation) -> None:
    if operation.path is None:
        assert isinstance(operation.value, dict)  # read_patch checked it
        for assignment in read_assignments(
            resource_type,
            operation.value,
            read_only="reject",
            unchanged=state.unchanged,
            dialect=state.dialect,
        ):
            if operation.op == "add" and (assignment.value is None or assignment.sent is None):
                continue  # nothing to add
            target = Target(assignment.ref.with_sub(None), None, assignment.ref.sub)
            if not is_members(target.ref):
                state.charge(target, assignment.sent)
            if operation.op == "remove":  # of a whole extension: every value is None
                _apply_read(state, "remove", target, None, None)
            else:
                _apply_read(state, operation.op, target, assignment.value, assignment.sent)
        return
    target = _target(operation.path)
    if is_members(target.ref):
        members = None if operation.value is None else read_members(operation.value, dialect=state.dialect)
        _member_delta(state).change(operation.op, target.filter, members)
    elif operation.op == "remove":
        state.charge(target, None)
        remove(state.doc, target)
    else:
        state.charge(target, operation.value)
        attribute = target.sub or target.ref.attribute
        value = read_value(
            target.ref.with_sub(target.sub),
            operation.value,
            element=target.filter is not None and target.sub is None,
            dialect=state.dialect,
        )
        _apply_read(state, operation.op, target, value, operation.value if attribute.is_complex else None)


def _apply_read(state: _State, op: OpName, target: Target, value: object, raw: object) -> None:
    """Apply an operation whose value is already read; a None value unassigns (replace) or adds nothing."""
    if is_members(target.ref):
        assert value is None or isinstance(value, list)
        _member_delta(state).change(op, None, value if op != "remove" else None)
    elif is_password(target.ref):
        if value is None:
            raise Mutability("password can be replaced but not removed")
        state.password = str(value)
    elif op == "remove" or (value is None and op == "replace"):
        remove(state.doc, target)
    elif value is not None:
        write(state.doc, op, target, value, raw, state.dialect)


def _member_delta(state: _State) -> MemberDelta:
    if state.members is None:
        state.members = MemberDelta()
    return state.members
