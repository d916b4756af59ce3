"""Each of Entra's tolerance rules on its own, then in the engine (docs/entra-client.md).

The replays (tests/scim/replays/entra/) show the same rules over HTTP;
test_entra_properties.py shows that none of them changes an RFC request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scimhub.errors import InvalidPath, InvalidValue, NoTarget
from scimhub.query.filter.parser import parse_patch_path
from scimhub.query.schema import (
    COMMON,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    RESOURCE_TYPES,
    USER,
    Attribute,
    ResourceType,
    Schema,
)
from scimhub.scim import entra
from scimhub.scim.dialects import DEFAULT, STRICT, Dialect
from scimhub.scim.patch import PatchResult, apply_patch, read_patch
from scimhub.scim.values import read_resource

E = ENTERPRISE_USER


def attribute(owner: Schema, name: str) -> Attribute:
    found = owner.attribute(name)
    assert found is not None
    return found


MANAGER = attribute(USER.extensions[0], "manager")
ROLES = attribute(USER.schema, "roles")
EMAILS = attribute(USER.schema, "emails")
MEMBERS = attribute(GROUP.schema, "members")
ACTIVE = attribute(USER.schema, "active")
NAME = attribute(USER.schema, "name")
ENCODED = json.dumps({"id": "06b07648-ecfe-589f-9d2f-6325724a46ee", "value": "Admin", "displayName": "Admin"})


def patch(
    doc: dict[str, Any], *ops: dict[str, Any], resource_type: ResourceType = USER, dialect: Dialect = DEFAULT
) -> PatchResult:
    operations = read_patch(resource_type, {"Operations": list(ops)}, dialect=dialect)
    return apply_patch(resource_type, doc, operations, dialect=dialect)


# -- operation rules ----------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "read"), [("Add", "add"), ("REPLACE", "replace"), ("Remove", "remove")])
def test_read_op_in_any_case(sent: str, read: str) -> None:
    """Quirk #1: ``Add``, ``Replace``, ``Remove`` are the RFC's lower-case ops."""
    assert entra.read_op_in_any_case(USER, {"op": sent, "path": "title"}) == [{"op": read, "path": "title"}]


@pytest.mark.parametrize("op", ["add", "Delete", None, 3])
def test_read_op_in_any_case_leaves_other_ops_alone(op: object) -> None:
    """Lower-case and unknown ops pass unchanged, for the engine to accept or refuse."""
    assert entra.read_op_in_any_case(USER, {"op": op}) == [{"op": op}]


def test_strict_refuses_a_capitalised_op() -> None:
    """Without the rule, ``Add`` is no PATCH operation."""
    with pytest.raises(InvalidValue, match="'Add' is not a PATCH operation"):
        read_patch(USER, {"Operations": [{"op": "Add", "path": "title", "value": "T"}]}, dialect=STRICT)


def test_ignore_unknown_extension_paths() -> None:
    """§3.3: an operation on a custom extension scimhub does not serve is dropped; known paths stay."""
    custom: dict[str, object] = {
        "op": "add",
        "path": "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge",
        "value": "7",
    }
    assert entra.ignore_unknown_extension_paths(USER, custom) == []
    known: dict[str, object] = {"op": "add", "path": f"{E}:department", "value": "T"}
    assert entra.ignore_unknown_extension_paths(USER, known) == [known]


def test_strict_refuses_an_unknown_extension_path() -> None:
    """Without the rule, an unknown schema in a path is invalidPath."""
    op = {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge", "value": "7"}
    with pytest.raises(InvalidPath):
        read_patch(USER, {"Operations": [op]}, dialect=STRICT)


def test_split_remove_by_value_selects_members_by_id() -> None:
    """Quirks #7, #8: a member value array becomes one id selection per member; $ref and display don't."""
    value = [{"$ref": None, "value": "u1"}, {"value": "u2", "display": "Bob"}, "u3"]
    assert entra.split_remove_by_value(GROUP, {"op": "remove", "path": "members", "value": value}) == [
        {"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "remove", "path": 'members[value eq "u2"]'},
        {"op": "remove", "path": 'members[value eq "u3"]'},
    ]


def test_split_remove_by_value_selects_other_values_by_every_sub_attribute() -> None:
    """For values that reference nothing, every sub-attribute given selects; quotes are escaped as JSON."""
    value = [{"value": 'a"b@x', "type": "work", "primary": True}]
    assert entra.split_remove_by_value(USER, {"op": "remove", "path": "emails", "value": value}) == [
        {"op": "remove", "path": 'emails[value eq "a\\"b@x" and type eq "work" and primary eq true]'}
    ]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": "title", "value": "T"},
        {"op": "remove", "path": 'members[value eq "u1"]', "value": [{"value": "u1"}]},
        {"op": "remove", "path": "members", "value": [{"value": {"nested": 1}}]},
        {"op": "remove", "path": "members", "value": [{"display": "no id"}]},
    ],
)
def test_split_remove_by_value_leaves_other_operations_alone(operation: dict[str, Any]) -> None:
    """Removes without a value, other ops, single values, filtered paths, unselectable values: unchanged."""
    assert entra.split_remove_by_value(GROUP if "members" in operation["path"] else USER, operation) == [
        operation
    ]


def test_remove_by_value_removes_exactly_the_listed_members() -> None:
    """Through the engine: only the listed members go, never all; an empty array removes nothing."""
    change = patch(
        {"displayName": "G"},
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
        resource_type=GROUP,
    )
    assert (change.members and change.members.remove, change.members and change.members.clear) == (
        {"u1"},
        False,
    )
    assert (
        patch(
            {"displayName": "G"}, {"op": "Remove", "path": "members", "value": []}, resource_type=GROUP
        ).members
        is None
    )


def test_strict_refuses_remove_with_a_value() -> None:
    """Without the rule, ``remove`` with a value is invalidValue rather than a removal of every member."""
    with pytest.raises(InvalidValue, match="remove takes no value"):
        read_patch(
            GROUP,
            {"Operations": [{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]},
            dialect=STRICT,
        )


def test_split_operations_keep_their_index_in_errors() -> None:
    """An error in an operation a rule produced names the operation the client sent."""
    too_long = [{"value": "u1"}, {"value": "x" * 5000}]
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "displayName", "value": "H"},
        {"op": "Remove", "path": "members", "value": too_long},
    ]
    with pytest.raises(InvalidPath, match=r"Operations\[1\]"):
        patch({"displayName": "G"}, *ops, resource_type=GROUP)


# -- object rules -------------------------------------------------------------------------


def test_expand_dotted_keys() -> None:
    """Quirk #3: ``name.givenName`` becomes the core-URN-qualified sub-attribute path."""
    assert entra.expand_dotted_keys(USER, {"name.givenName": "B", "title": "T"}) == {
        f"{CORE_USER}:name.givenName": "B",
        "title": "T",
    }


def test_expand_dotted_keys_leaves_other_keys_alone() -> None:
    """URN keys, plain keys and dotted keys of no core attribute pass unchanged (the same object)."""
    obj: dict[str, object] = {f"{E}:manager.value": "m", "title": "T", "badge.number": "7"}
    assert entra.expand_dotted_keys(USER, obj) is obj


def test_pathless_replace_with_dotted_keys_replaces_only_those_sub_attributes() -> None:
    """Through the engine: Q&A 1435791's replace leaves ``givenName`` in place."""
    doc = {"userName": "u", "name": {"givenName": "G", "familyName": "F", "formatted": "G F"}}
    op = {"op": "replace", "value": {"name.formatted": "test test2", "name.familyName": "test"}}
    assert patch(doc, op).doc["name"] == {"givenName": "G", "familyName": "test", "formatted": "test test2"}


def test_qualify_extension_keys() -> None:
    """§2.3: ``department`` and ``manager`` at the top level of a body belong to the enterprise extension."""
    assert entra.qualify_extension_keys(
        USER, {"department": None, "manager": {"value": "m"}, "title": "T"}
    ) == {
        f"{E}:department": None,
        f"{E}:manager": {"value": "m"},
        "title": "T",
    }


def test_qualify_extension_keys_leaves_other_keys_alone() -> None:
    """Core, common, schemas and unknown keys pass unchanged (the same object)."""
    obj: dict[str, object] = {"schemas": [], "id": "x", "userName": "u", "adreses": []}
    assert entra.qualify_extension_keys(USER, obj) is obj


def test_legacy_create_with_top_level_nulls_is_read() -> None:
    """Through the engine: Microsoft's legacy create, nulls and typo schema included, reads (§2.3 item 2)."""
    body = {
        "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "jy",
        "addresses": None,
        "meta": {"resourceType": "User"},
        "department": None,
        "manager": None,
        "title": None,
    }
    assert read_resource(USER, body).doc == {"userName": "jy"}
    with pytest.raises(InvalidValue, match="'department' is not an attribute"):
        read_resource(USER, body, dialect=STRICT)


# -- value rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "read"), [("True", True), ("false", False), ("FALSE", False), (" true ", True)]
)
def test_read_string_booleans(sent: str, read: bool) -> None:
    """Quirks #2, #6: "true"/"false" in any case are booleans for a boolean attribute."""
    assert entra.read_string_booleans(ACTIVE, sent) is read


@pytest.mark.parametrize(("attribute", "sent"), [(ACTIVE, "yes"), (Attribute("title"), "True"), (ACTIVE, 1)])
def test_read_string_booleans_leaves_other_values_alone(attribute: Attribute, sent: object) -> None:
    """Only "true"/"false" strings for boolean attributes are read."""
    assert entra.read_string_booleans(attribute, sent) == sent


def test_string_booleans_everywhere_in_a_post() -> None:
    """Through the engine: top level, element sub-attributes and role primaries; STRICT refuses them."""
    body = {
        "userName": "u",
        "active": "False",
        "emails": [{"value": "a@x", "primary": "True"}],
        "roles": [{"value": "Admin", "primary": "True"}],
    }
    doc = read_resource(USER, body).doc
    assert (doc["active"], doc["emails"][0]["primary"], doc["roles"][0]["primary"]) == (False, True, True)
    with pytest.raises(InvalidValue, match="active must be true or false"):
        read_resource(USER, body, dialect=STRICT)


def test_read_single_element_lists() -> None:
    """Quirk #9: ``[{"$ref", "value"}]`` for the manager is its element; ``[]`` is unassigned."""
    element = {"$ref": "https://x/Users/m", "value": "m"}
    assert entra.read_single_element_lists(MANAGER, [element]) == element
    assert entra.read_single_element_lists(MANAGER, []) is None
    assert entra.read_single_element_lists(MANAGER, [element, element]) == [element, element]
    assert entra.read_single_element_lists(EMAILS, [element]) == [element]


def test_read_bare_values() -> None:
    """Quirks #8, #9: a string for a complex attribute with ``value`` is that value."""
    assert entra.read_bare_values(MANAGER, "m") == {"value": "m"}
    assert entra.read_bare_values(MEMBERS, "u1") == {"value": "u1"}
    assert entra.read_bare_values(NAME, "Babs") == "Babs"  # name has no value sub-attribute
    assert entra.read_bare_values(Attribute("title"), "T") == "T"


def test_read_empty_reference_as_unassigned() -> None:
    """Quirk #9: ``{"value": ""}`` for the manager is unassigned; a real id or a list is left alone."""
    assert entra.read_empty_reference_as_unassigned(MANAGER, {"value": ""}) is None
    assert entra.read_empty_reference_as_unassigned(MANAGER, {"Value": " "}) is None
    assert entra.read_empty_reference_as_unassigned(MANAGER, {"value": "m"}) == {"value": "m"}
    assert entra.read_empty_reference_as_unassigned(MEMBERS, {"value": ""}) == {"value": ""}


@pytest.mark.parametrize(
    "value",
    [
        {"value": "m"},
        [{"$ref": "https://x/Users/m", "value": "m"}],
        "m",
    ],
)
def test_manager_shapes_in_post_and_patch(value: object) -> None:
    """Through the engine: object, array with $ref, and string all set the manager, in POST and PATCH."""
    expected = {"value": "m", **({"$ref": "https://x/Users/m"} if isinstance(value, list) else {})}
    assert read_resource(USER, {"userName": "u", E: {"manager": value}}).doc[E]["manager"] == expected
    assert (
        patch({"userName": "u"}, {"op": "Add", "path": "manager", "value": value}).doc[E]["manager"]
        == expected
    )


def test_manager_removals() -> None:
    """Through the engine: ``remove manager[value eq]`` on a bare path; ``replace`` by ``{"value": ""}``."""
    doc = {"userName": "u", E: {"manager": {"value": "m"}, "department": "D"}}
    assert patch(doc, {"op": "remove", "path": 'manager[value eq "m"]'}).doc[E] == {"department": "D"}
    assert patch(doc, {"op": "replace", "path": f"{E}:manager", "value": {"value": ""}}).doc[E] == {
        "department": "D"
    }
    strict = patch(doc, {"op": "replace", "path": f"{E}:manager", "value": {"value": ""}}, dialect=STRICT)
    assert strict.doc[E]["manager"] == {"value": ""}


def test_decode_json_encoded_roles() -> None:
    """Quirk #13: a JSON-encoded role reads as the role, in the Complex POST's form; its id is dropped."""
    assert entra.decode_json_encoded_roles(ROLES, {"value": ENCODED}) == {
        "primary": False,
        "type": "WindowsAzureActiveDirectoryRole",
        "value": "Admin",
        "displayName": "Admin",
    }


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        (ROLES, {"value": "Admin"}),
        (ROLES, {"value": "{not json"}),
        (ROLES, {"value": '{"id": "x"}'}),
        (ROLES, {"value": '["Admin"]'}),
        (EMAILS, {"value": ENCODED}),
        (ROLES, "Admin"),
    ],
)
def test_decode_json_encoded_roles_leaves_other_values_alone(attribute: Attribute, value: object) -> None:
    """Plain roles, malformed or value-less JSON, other attributes and non-objects pass unchanged."""
    assert entra.decode_json_encoded_roles(attribute, value) == value


def test_json_encoded_roles_added_by_patch() -> None:
    """Through the engine: Complex's PATCH adds the decoded role; a role already there is not added twice."""
    posted = {
        "primary": False,
        "type": "WindowsAzureActiveDirectoryRole",
        "display": "Admin",
        "value": "Admin",
    }
    doc = patch(
        {"userName": "u", "roles": [posted]}, {"op": "Add", "path": "roles", "value": [{"value": ENCODED}]}
    ).doc
    assert doc["roles"] == [posted]
    editor = ENCODED.replace("Admin", "Editor")
    added = patch({"userName": "u"}, {"op": "Add", "path": "roles", "value": [{"value": editor}]}).doc[
        "roles"
    ]
    assert added == [{**posted, "display": "Editor", "value": "Editor"}]


def test_read_display_name_as_display() -> None:
    """§5.2: ``displayName`` in a role or member element is ``display``; ``display`` wins if both are sent."""
    assert entra.read_display_name_as_display(ROLES, {"displayName": "A", "value": "Admin"}) == {
        "value": "Admin",
        "display": "A",
    }
    assert entra.read_display_name_as_display(MEMBERS, {"DisplayName": "B", "display": "C"}) == {
        "display": "C"
    }
    assert entra.read_display_name_as_display(MANAGER, {"displayName": "M"}) == {
        "displayName": "M"
    }  # its own sub-attribute
    assert entra.read_display_name_as_display(NAME, {"displayName": "x"}) == {"displayName": "x"}
    # Two spellings: the last is read (as a dict keyed in lower case keeps it), the other stays.
    assert entra.read_display_name_as_display(
        MEMBERS, {"value": "u", "displayName": "A", "DisplayName": "B"}
    ) == {
        "value": "u",
        "displayName": "A",
        "display": "B",
    }


# -- the unmatched rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "described"),
    [
        ('emails[type eq "work"]', {"type": "work"}),
        ('roles[primary eq "True"]', {"primary": True}),
        ('addresses[type eq "work" and country eq "NL"]', {"type": "work", "country": "NL"}),
        ('emails[type eq "work" and type eq "home"]', None),
        ('emails[type ne "work"]', None),
        ('emails[type eq "work" or type eq "home"]', None),
        ("emails[type eq null]", None),
    ],
)
def test_describe_unmatched_element(path: str, described: dict[str, object] | None) -> None:
    """Quirk #5: an equality filter (``and`` of them) pins the element it describes; nothing else does."""
    selection = parse_patch_path(USER, path).value_filter
    assert selection is not None
    assert entra.describe_unmatched_element(selection) == described


@pytest.mark.parametrize(
    ("path", "value", "element"),
    [
        ('phoneNumbers[type eq "mobile"].value', "55555555555", {"type": "mobile", "value": "55555555555"}),
        ('addresses[type eq "work"].locality', "Redmond", {"type": "work", "locality": "Redmond"}),
        ('roles[primary eq "True"].value', "Admin", {"primary": True, "value": "Admin"}),
    ],
)
def test_filtered_path_creates_the_missing_element(path: str, value: str, element: dict[str, object]) -> None:
    """Through the engine: Entra's mappings create the element; STRICT says noTarget."""
    attribute = path.split("[")[0]
    assert patch({"userName": "u"}, {"op": "Add", "path": path, "value": value}).doc[attribute] == [element]
    with pytest.raises(NoTarget):
        patch({"userName": "u"}, {"op": "add", "path": path, "value": value}, dialect=STRICT)


def test_primary_role_is_replaced_not_appended() -> None:
    """§5.1, quirks #5, #6: ``Add roles[primary eq "True"].value`` changes the primary role's value."""
    doc = {
        "userName": "u",
        "roles": [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
    }
    roles = patch(doc, {"op": "Add", "path": 'roles[primary eq "True"].value', "value": "Editor"}).doc[
        "roles"
    ]
    assert roles == [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Editor"}]


def _every_attribute() -> list[Attribute]:
    tops = [*COMMON, *(a for t in RESOURCE_TYPES for schema in t.schemas() for a in schema.attributes)]
    return [*tops, *(sub for a in tops for sub in a.sub_attributes)]


_ANY_VALUES: list[object] = [
    None,
    True,
    "True",
    "false",
    "",
    "id-1",
    '{"id": "06b0", "value": "Admin", "displayName": "Admin"}',
    [],
    ["id-1"],
    [{"value": "id-1"}],
    {},
    {"value": ""},
    {"value": "id-1", "displayName": "Jane"},
    {"Value": '{"value": "Admin"}', "DisplayName": "Admin"},
]


@pytest.mark.parametrize("rule", entra.VALUE_RULES, ids=lambda r: r.rewrite.__name__)
def test_a_value_rule_leaves_alone_every_attribute_it_does_not_apply_to(rule: Any) -> None:
    """``Dialect.rules_for`` leaves out a rule for an attribute ``applies`` turns down: it changes none."""
    skipped = [a for a in _every_attribute() if not rule.applies(a)]
    assert skipped, "a rule that applies to every attribute needs no test of what it skips"
    for attribute in skipped:
        for value in _ANY_VALUES:
            assert rule.rewrite(attribute, value) == value, (attribute.name, value)


def test_a_value_rule_runs_only_for_the_attributes_it_applies_to() -> None:
    """The values of a string are met by no rule; a member's by the two that read Entra's members."""
    members = GROUP.schema.attribute("members")
    assert members is not None and members.sub("value") is not None
    names = [rewrite.__name__ for rewrite in DEFAULT.rules_for(members)]
    assert names == ["read_bare_values", "read_display_name_as_display"]
    assert DEFAULT.rules_for(members.sub("value")) == ()


def test_default_dialect_hooks_every_rule() -> None:
    """DEFAULT carries every rule of entra.py, STRICT none."""
    assert DEFAULT.operation_rules == entra.OPERATION_RULES
    assert DEFAULT.object_rules == entra.OBJECT_RULES
    assert DEFAULT.value_rules == entra.VALUE_RULES
    assert DEFAULT.unmatched is entra.describe_unmatched_element
    assert (STRICT.operation_rules, STRICT.object_rules, STRICT.value_rules, STRICT.unmatched) == (
        (),
        (),
        (),
        None,
    )
