"""Microsoft Entra ID's SCIM dialect, as named tolerance rules (ADR 0012).

Entra is scimhub's first client and it speaks two dialects: the default job
(``Replace``, ``"False"``, member removal by a value array) and the one behind the
``aadOptscim062020`` Tenant URL flag (lower-case ops, path-less values with dotted
keys, ``members[value eq "…"]``). Every function here tolerates one quirk of
docs/entra-client.md (cited as "quirk #n", or by section), and
``dialects.DEFAULT`` hooks them all into the engine, so both dialects work without
the administrator choosing anything. The rules come in the four kinds of
``dialects.py`` and are collected, in order, in ``OPERATION_RULES``,
``OBJECT_RULES``, ``VALUE_RULES`` and ``describe_unmatched_element``. Each rule
returns its input unchanged when it does not recognise it: a request the RFC
defines never reaches a rule's rewrite (``tests/scim/test_entra_properties.py``),
``tests/scim/test_entra.py`` tests each rule on its own, and
``tests/scim/replays/entra/`` replays the traffic.

What Entra needs that is plain RFC, so no rule here: URN-qualified paths whose
``2.0`` holds a dot (quirk #4, RFC 7644 §3.10: ``paths.py``); ``Add`` on a
single-valued attribute replaces it (quirk #10, §3.5.2.1); ``meta`` and
schema URIs we do not serve are ignored (quirks #11, #12: ``values.py``);
null is unassigned (§3.3, RFC 7643 §2.5). The filter and path parser
(``query/filter/parser.py``) has its own tolerances, which serve searches as well as PATCH
paths: literals unquoted or ``"True"`` against a boolean (quirk #6, §2.3)
and an extension attribute named without its URN (``manager[value eq "…"]``,
quirk #9).

Two readings are decisions (ADR 0012): a role sent as a JSON-encoded string is
stored as the role it encodes, in the form the same mapping's POST sends, and
``displayName`` in a role or member element is stored as ``display``, the RFC's
name; both so that a GET shows the roles as every SCIM client, DataHub's role
mapping and Entra's own POST spell them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache

from scimhub.errors import InvalidInput
from scimhub.query.filter.tree import And, Compare, Filter
from scimhub.query.paths import resolve, split_urn
from scimhub.query.schema import COMMON_BY_KEY, Attribute, ResourceType
from scimhub.scim.rules import RawOperation, ValueRule

_OPS = ("add", "remove", "replace")
_HEAD = re.compile(r"[A-Za-z$][\w$-]*")
"""An attribute name at the start of a path or key (RFC 7644 §3.10 ATTRNAME; ``$ref``)."""


def read_op_in_any_case(resource_type: ResourceType, operation: RawOperation) -> list[RawOperation]:
    """Read ``op`` in any case (quirk #1).

    Entra's default job sends ``Add``, ``Replace`` and ``Remove``; Microsoft asks
    servers not to "require a case-sensitive match on structural elements … in
    particular PATCH ``op`` operation values" (§1.2).
    """
    op = operation.get("op")
    if isinstance(op, str) and op.lower() in _OPS and op != op.lower():
        return [{**operation, "op": op.lower()}]
    return [operation]


def ignore_unknown_extension_paths(
    resource_type: ResourceType, operation: RawOperation
) -> list[RawOperation]:
    """Drop an operation whose path starts with the URN of a schema this resource type does not have (§3.3).

    An administrator may map Entra attributes to a custom extension,
    ``urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:…``,
    which scimhub does not serve. A POST ignores such keys (``values.py``); a
    PATCH that refused them would also refuse the deactivation Entra sends in the
    same request (quirk #5, the Chainguard report), so the operation is dropped.
    """
    path = operation.get("path")
    if not isinstance(path, str) or path.strip()[:4].lower() != "urn:":
        return [operation]
    try:
        split_urn(resource_type, path.strip())
    except LookupError:
        return []
    return [operation]


def split_remove_by_value(resource_type: ResourceType, operation: RawOperation) -> list[RawOperation]:
    """Read ``remove`` of a multi-valued attribute with a value array as one remove per value (quirk #7).

    Entra's default job removes group members with ``{"op": "Remove", "path":
    "members", "value": [{"value": "id"}]}``; the RFC gives remove no value, and a
    server that ignores it removes *every* member. Each listed value becomes
    ``remove path[selection]``: for attributes that reference resources (they have
    ``$ref``, like ``members``) the selection is the id, ``value eq "id"``; for the
    others, every sub-attribute the value gives, joined by ``and``. Bare strings
    (quirk #8) are ids. An empty array removes nothing; a value with nothing to
    select by is left for the engine to refuse.
    """
    path, value = operation.get("path"), operation.get("value")
    if operation.get("op") != "remove" or value is None or not isinstance(path, str):
        return [operation]
    try:
        ref = resolve(resource_type, path.strip())
    except InvalidInput:
        return [operation]
    attribute = ref.attribute
    if ref.sub is not None or not (attribute.multi_valued and attribute.is_complex):
        return [operation]
    removes: list[RawOperation] = []
    for item in value if isinstance(value, list) else [value]:
        selection = _selection(attribute, item)
        if selection is None:
            return [operation]
        if selection:
            removes.append({"op": "remove", "path": f"{path.strip()}[{selection}]"})
    return removes


def _selection(attribute: Attribute, item: object) -> str | None:
    """Return the filter selecting ``item``'s element, "" for none, None when ``item`` cannot select."""
    if isinstance(item, str | int | float | bool):
        item = {"value": item}
    if not isinstance(item, dict):
        return None
    given = {key: sub_value for key, sub_value in item.items() if sub_value is not None}
    if given and attribute.sub("$ref") is not None:  # a reference: the id alone names the element
        given = {key: sub_value for key, sub_value in given.items() if key.lower() == "value"}
        if not given:
            return None
    terms = []
    for key, sub_value in given.items():
        sub = attribute.sub(key)
        if sub is None or not isinstance(sub_value, str | int | float | bool):
            return None
        terms.append(f"{sub.name} eq {json.dumps(sub_value)}")
    return " and ".join(terms)


OPERATION_RULES = (read_op_in_any_case, ignore_unknown_extension_paths, split_remove_by_value)


def qualify_extension_keys(resource_type: ResourceType, obj: dict[str, object]) -> dict[str, object]:
    """Qualify a key naming an extension attribute without its URN (§2.3, quirk #9).

    Microsoft's documented create sends ``"department": null, "manager": null`` at
    the top level of a User (§2.3 item 2). As for paths, a name no core attribute
    has and exactly one extension has can only mean that extension's attribute.
    """
    if not any(_qualified(resource_type, key) for key in obj):
        return obj
    return {(_qualified(resource_type, key) or key): value for key, value in obj.items()}


def expand_dotted_keys(resource_type: ResourceType, obj: dict[str, object]) -> dict[str, object]:
    """Read a dotted key (``"name.givenName"``) as the sub-attribute path it is (quirk #3).

    With ``aadOptscim062020`` Entra moves every unfiltered attribute of a PATCH into
    one path-less operation whose value object has keys like ``"name.givenName"``
    (§4.2). The key becomes the URN-qualified path
    ``urn:…:core:2.0:User:name.givenName``, which the engine already reads as one
    sub-attribute (RFC 7644 §3.10), so ``replace`` changes that sub-attribute only.
    """
    core = resource_type.schema

    def expanded(key: str) -> str:
        head, dot, _ = key.partition(".")
        return f"{core.id}:{key}" if dot and key[:4].lower() != "urn:" and core.attribute(head) else key

    if all(expanded(key) == key for key in obj):
        return obj
    return {expanded(key): value for key, value in obj.items()}


@lru_cache(maxsize=4096)  # a few names a body, the same in every body of a client; the types are constants
def _qualified(resource_type: ResourceType, text: str) -> str | None:
    """Return ``text`` prefixed with the URN of the one extension its leading name belongs to, or None."""
    match = _HEAD.match(text)
    if (
        match is None
        or text[:4].lower() == "urn:"
        or text[match.end() : match.end() + 1] not in ("", ".", "[")
    ):
        return None
    name = match.group()
    if name.lower() in COMMON_BY_KEY or resource_type.schema.attribute(name):
        return None
    owners = [schema for schema in resource_type.extensions if schema.attribute(name) is not None]
    return f"{owners[0].id}:{text}" if len(owners) == 1 else None


OBJECT_RULES = (qualify_extension_keys, expand_dotted_keys)


def read_single_element_lists(attribute: Attribute, value: object) -> object:
    """Read a one-element array given for a single-valued complex attribute as its element (quirk #9).

    Microsoft's documented manager update is ``{"op": "Add", "path": "manager",
    "value": [{"$ref": "…", "value": "…"}]}`` (§2.3 item 5); an empty array is
    unassigned (RFC 7643 §2.5).
    """
    if attribute.is_complex and not attribute.multi_valued and isinstance(value, list) and len(value) <= 1:
        return value[0] if value else None
    return value


def read_bare_values(attribute: Attribute, value: object) -> object:
    """Read a string given for a complex attribute with ``value`` as that value (quirks #8, #9).

    Entra has been seen sending the manager as ``"value": "2c2f6fb8-…"`` and
    members as bare ids; Microsoft's reference Postman suite adds a member with
    ``"value": "string id 1"`` (§7.1). A string can only be the ``value``.
    """
    if attribute.is_complex and isinstance(value, str) and attribute.sub("value") is not None:
        return {"value": value}
    return value


def read_empty_reference_as_unassigned(attribute: Attribute, value: object) -> object:
    """Read ``{"value": ""}`` for a single-valued complex attribute as unassigned (quirk #9).

    Microsoft's SCIM Validator removes a manager with ``replace`` of
    ``urn:…:User:manager`` by ``{"value": ""}`` (§7.2 SCIM_Update_Manager, §7.3);
    an empty id references nothing, so the manager is unassigned.
    """
    if attribute.is_complex and not attribute.multi_valued and isinstance(value, dict):
        sent = next((v for k, v in value.items() if k.lower() == "value"), None)
        if isinstance(sent, str) and not sent.strip() and attribute.sub("value") is not None:
            return None
    return value


def decode_json_encoded_roles(attribute: Attribute, value: object) -> object:
    r"""Read a role whose ``value`` is a JSON-encoded object as the role it encodes (quirk #13, §5.2).

    ``AppRoleAssignmentsComplex`` PATCHes ``roles`` with values such as
    ``"{\"id\":\"06b0…\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"``,
    where its POST sends ``{"primary": false, "type":
    "WindowsAzureActiveDirectoryRole", "displayName": "Admin", "value": "Admin"}``
    for the same role (§5.2: "All roles are provisioned as primary = false", and
    the type is always that one, §5.1). The role is read in the POST's form (ADR
    0012), so a role added by PATCH reads back like one created by POST, and adding
    a role the user already has changes nothing. The encoded ``id`` is Entra's
    appRole id, which SCIM's role has no place for (Microsoft: "The id attribute
    isn't required… Use the value attribute"); ``displayName`` is left to
    ``read_display_name_as_display``.
    """
    if attribute.name != "roles" or not attribute.is_complex or not isinstance(value, dict):
        return value
    encoded = next((v for k, v in value.items() if k.lower() == "value"), None)
    if not isinstance(encoded, str) or not encoded.lstrip().startswith("{"):
        return value
    try:
        decoded = json.loads(encoded)
    except ValueError:
        return value
    if not isinstance(decoded, dict) or not isinstance(decoded.get("value"), str):
        return value
    beside = {k: v for k, v in value.items() if k.lower() != "value"}
    return {**_COMPLEX_ROLE, **beside, **{k: v for k, v in decoded.items() if k.lower() != "id"}}


_COMPLEX_ROLE = {"primary": False, "type": "WindowsAzureActiveDirectoryRole"}
"""What AppRoleAssignmentsComplex's POST gives every role beside its value and name (§5.2)."""


def read_display_name_as_display(attribute: Attribute, value: object) -> object:
    """Read ``displayName`` in an element that has ``display`` and no ``displayName`` as ``display`` (§5.2).

    ``AppRoleAssignmentsComplex`` POSTs roles with ``displayName`` where RFC 7643
    §2.4 names the sub-attribute ``display``, and Microsoft's reference suite adds
    members the same way (§7.1). ``display`` wins when both are sent.
    """
    if not isinstance(value, dict):
        return value
    sent = None
    for key in value:  # the last spelling sent wins, as it would in a dict keyed in lower case
        if key.lower() == "displayname":
            sent = key
    if sent is None or not _complex_with_display_only(attribute):
        return value
    renamed = {k: v for k, v in value.items() if k != sent}
    if not any(key.lower() == "display" for key in value):
        renamed["display"] = value[sent]
    return renamed


def read_string_booleans(attribute: Attribute, value: object) -> object:
    """Read ``"true"``/``"false"`` in any case as a boolean for a boolean attribute (quirks #2, #6).

    Entra's default ``active`` mapping (``Switch([IsSoftDeleted], …, "False",
    "True")``, §3.1) sends strings, in POST bodies, PATCH values and path-less
    values alike, and the SCIM Validator posts roles with ``"primary": "True"``
    (§5.1). Microsoft's reference code parses them with ``bool.TryParse``; such a
    string cannot mean anything else for a boolean.
    """
    if attribute.type == "boolean" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return value


def _single_complex(attribute: Attribute) -> bool:
    return attribute.is_complex and not attribute.multi_valued


def _complex_with_value(attribute: Attribute) -> bool:
    return attribute.is_complex and attribute.sub("value") is not None


def _complex_with_display_only(attribute: Attribute) -> bool:
    return (
        attribute.is_complex and attribute.sub("display") is not None and attribute.sub("displayName") is None
    )


VALUE_RULES = (
    ValueRule(read_single_element_lists, _single_complex),
    ValueRule(read_bare_values, _complex_with_value),
    ValueRule(read_empty_reference_as_unassigned, lambda a: _single_complex(a) and _complex_with_value(a)),
    ValueRule(decode_json_encoded_roles, lambda a: a.name == "roles" and a.is_complex),
    ValueRule(read_display_name_as_display, _complex_with_display_only),
    ValueRule(read_string_booleans, lambda a: a.type == "boolean"),
)
"""In this order: an array of one becomes its element before a bare id becomes
``{"value": id}``, which may then be empty or JSON-encoded."""


def describe_unmatched_element(selection: Filter) -> dict[str, object] | None:
    """Return the sub-attribute values an equality filter pins (quirk #5).

    Entra maps ``emails[type eq "work"].value``, ``phoneNumbers[type eq
    "mobile"].value``, ``addresses[type eq "work"].locality`` and ``roles[primary
    eq "True"].value`` and PATCHes them "even if an array-valued property … is not
    present" (ssoready PR #249), expecting the element to be created. ``a eq x``
    pins one sub-attribute, ``a eq x and b eq y`` two; any other filter (or a
    contradiction, or a dateTime, no longer the text sent) describes nothing and
    stays noTarget (RFC 7644 §3.5.2.3).
    """
    if isinstance(selection, And):
        left, right = describe_unmatched_element(selection.left), describe_unmatched_element(selection.right)
        if left is None or right is None or any(left[k] != right[k] for k in left.keys() & right.keys()):
            return None
        return {**left, **right}
    if (
        isinstance(selection, Compare)
        and selection.op == "eq"
        and selection.path.sub is not None
        and selection.value is not None
        and not isinstance(selection.value, datetime)
    ):
        return {selection.path.sub.name: selection.value}
    return None
