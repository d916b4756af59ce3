from __future__ import annotations

import copy
from typing import Any

import pytest

from scimhub.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
)
from scimhub.query.filter.tree import MAX_TERMS
from scimhub.query.schema import (
    ENTERPRISE_USER,
    GROUP,
    PATCH_OP,
    USER,
    USER_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)
from scimhub.scim.dialects import STRICT, Dialect
from scimhub.scim.members import MemberChange
from scimhub.scim.patch import PatchResult, apply_patch, read_patch

ENTERPRISE = ENTERPRISE_USER
BJENSEN: dict[str, Any] = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
}


def patch(
    doc: dict[str, Any],
    *operations: dict[str, Any],
    resource_type: ResourceType = USER,
    dialect: Dialect | None = None,
) -> PatchResult:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    if dialect is None:
        return apply_patch(resource_type, doc, read_patch(resource_type, body))
    return apply_patch(resource_type, doc, read_patch(resource_type, body, dialect=dialect), dialect=dialect)


def group_patch(*operations: dict[str, Any]) -> MemberChange | None:
    return patch({"displayName": "Admins"}, *operations, resource_type=GROUP).members


def user(**attrs: object) -> dict[str, Any]:
    return {**copy.deepcopy(BJENSEN), **attrs}


# -- the message (read_patch) ---------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], "x"])
def test_body_must_be_an_object(body: object) -> None:
    """A PATCH body that is not an object is invalidSyntax."""
    with pytest.raises(InvalidSyntax, match="PatchOp JSON object"):
        read_patch(USER, body)


def test_schemas_may_be_missing() -> None:
    """A PatchOp without ``schemas`` is accepted (liberal)."""
    assert len(read_patch(USER, {"Operations": [{"op": "add", "path": "title", "value": "x"}]})) == 1


def test_schemas_must_name_patch_op() -> None:
    """``schemas`` present without the PatchOp URN is invalidSyntax (RFC 7644 §3.5.2)."""
    with pytest.raises(InvalidSyntax, match="must contain urn:ietf:params:scim:api:messages:2.0:PatchOp"):
        read_patch(USER, {"schemas": ["urn:x"], "Operations": [{"op": "remove", "path": "title"}]})
    with pytest.raises(InvalidSyntax, match="list of schema URI strings"):
        read_patch(USER, {"schemas": PATCH_OP, "Operations": [{"op": "remove", "path": "title"}]})


@pytest.mark.parametrize("operations", [None, {"op": "add"}, "add"])
def test_operations_must_be_an_array(operations: object) -> None:
    """``Operations`` missing or not an array is invalidSyntax."""
    body = (
        {"schemas": [PATCH_OP]} if operations is None else {"schemas": [PATCH_OP], "Operations": operations}
    )
    with pytest.raises(InvalidSyntax, match="Operations array"):
        read_patch(USER, body)


def test_operations_must_not_be_empty() -> None:
    """An empty ``Operations`` array is invalidValue: it must hold one or more operations."""
    with pytest.raises(InvalidValue, match="at least one operation"):
        read_patch(USER, {"schemas": [PATCH_OP], "Operations": []})


def test_operation_count_is_capped() -> None:
    """More than MAX_OPERATIONS operations is refused as too large (413, like bulk maxOperations)."""
    ops = [{"op": "add", "path": "title", "value": "x"}] * 3
    assert len(read_patch(USER, {"Operations": ops}, max_operations=3)) == 3
    with pytest.raises(PayloadTooLarge, match="4 operations; at most 3"):
        read_patch(USER, {"Operations": [*ops, ops[0]]}, max_operations=3)


def test_message_member_names_match_in_any_case() -> None:
    """``operations``, ``OP``, ``Path`` and ``Value`` are read in any case."""
    ops = read_patch(
        USER, {"SCHEMAS": [PATCH_OP], "operations": [{"OP": "add", "Path": "title", "VALUE": "x"}]}
    )
    assert (ops[0].op, ops[0].value) == ("add", "x")


@pytest.mark.parametrize(("sent", "read"), [("Add", "add"), ("REPLACE", "replace"), ("Remove", "remove")])
def test_op_matches_in_any_case(sent: str, read: str) -> None:
    """``op`` is case-insensitive: Entra sends Add, Replace and Remove."""
    operation = {"op": sent, "path": "title", **({"value": "x"} if read != "remove" else {})}
    assert read_patch(USER, {"Operations": [operation]})[0].op == read


@pytest.mark.parametrize(
    ("operation", "error", "message"),
    [
        ("add", InvalidSyntax, r"Operations\[1\]: an operation must be an object"),
        ({"path": "title"}, InvalidSyntax, r"Operations\[1\]: op is required"),
        (
            {"op": "delete", "path": "title"},
            InvalidValue,
            r"Operations\[1\]: 'delete' is not a PATCH operation",
        ),
        ({"op": "add", "path": 5, "value": 1}, InvalidSyntax, r"Operations\[1\]: path must be a string"),
        ({"op": "remove"}, NoTarget, r"Operations\[1\]: remove needs a path"),
        ({"op": "remove", "path": " "}, NoTarget, "remove needs a path"),
        ({"op": "add", "path": "title"}, InvalidValue, r"Operations\[1\]: add needs a value"),
        ({"op": "add", "path": "title", "value": None}, InvalidValue, "add needs a value"),
        ({"op": "replace", "path": "title"}, InvalidValue, "replace needs a value"),
        ({"op": "add", "value": "x"}, InvalidValue, "without a path, the value of add must be an object"),
        ({"op": "add", "path": "adreses", "value": "x"}, InvalidPath, r"Operations\[1\]: .*adreses"),
        ({"op": "add", "path": "name.nick", "value": "x"}, InvalidPath, "name.nick"),
        ({"op": "replace", "path": "id", "value": "x"}, Mutability, r"Operations\[1\]: id is readOnly"),
        ({"op": "remove", "path": "meta"}, Mutability, "meta is readOnly"),
        ({"op": "replace", "path": "meta.created", "value": "x"}, Mutability, "readOnly"),
        ({"op": "add", "path": "groups", "value": [{"value": "g"}]}, Mutability, "groups is readOnly"),
        (
            {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "B"},
            Mutability,
            "readOnly",
        ),
        ({"op": "remove", "path": 'userName[value eq "x"]'}, InvalidPath, "neither multi-valued nor complex"),
        ({"op": "remove", "path": "password"}, Mutability, "password can be replaced but not removed"),
        ({"op": "replace", "path": "password", "value": None}, Mutability, "not removed"),
    ],
)
def test_malformed_operation_is_refused_naming_its_index(
    operation: object, error: type, message: str
) -> None:
    """Each malformed operation is refused with the right scimType and its index in the detail."""
    body = {"Operations": [{"op": "add", "path": "title", "value": "ok"}, operation]}
    with pytest.raises(error, match=message):
        read_patch(USER, body)


def test_replace_with_null_is_accepted() -> None:
    """``replace`` with an explicit null is read: it unassigns its target."""
    assert (
        read_patch(USER, {"Operations": [{"op": "replace", "path": "title", "value": None}]})[0].value is None
    )


@pytest.mark.parametrize(
    ("operation", "error", "message"),
    [
        (
            {"op": "replace", "path": "members.value", "value": "x"},
            InvalidPath,
            "sub-attributes cannot be patched",
        ),
        ({"op": "add", "path": 'members[value eq "u1"]', "value": {}}, InvalidPath, "not a filter"),
        ({"op": "remove", "path": 'members[display eq "Bob"]'}, InvalidFilter, "selected by id"),
        ({"op": "remove", "path": 'members[value ne "u1"]'}, InvalidFilter, "selected by id"),
        (
            {"op": "remove", "path": 'members[value eq "u1" and type eq "User"]'},
            InvalidFilter,
            "selected by id",
        ),
    ],
)
def test_member_paths_that_need_the_members_loaded_are_refused(
    operation: dict[str, object], error: type, message: str
) -> None:
    """Member paths are limited to what can run without loading the members."""
    with pytest.raises(error, match=message):
        read_patch(GROUP, {"Operations": [operation]})


# -- add (RFC 7644 §3.5.2.1) ---------------------------------------------------------------


def test_add_sets_an_absent_single_valued_attribute() -> None:
    """``add`` of a single-valued attribute that has no value sets it."""
    assert patch(user(), {"op": "add", "path": "nickName", "value": "Babs"}).doc["nickName"] == "Babs"


def test_add_replaces_a_single_valued_attribute() -> None:
    """``add`` of a single-valued attribute that has a value replaces it (docs/entra-client.md quirk #10)."""
    assert patch(user(title="A"), {"op": "Add", "path": "title", "value": "B"}).doc["title"] == "B"


def test_add_merges_a_complex_attribute() -> None:
    """``add`` of a complex attribute sets the sub-attributes given and keeps the others."""
    doc = patch(
        user(), {"op": "add", "path": "name", "value": {"givenName": "Babs", "formatted": "Babs J"}}
    ).doc
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen", "formatted": "Babs J"}


def test_add_sub_attribute_creates_the_complex_attribute() -> None:
    """``add name.middleName`` on a user without ``name`` creates it."""
    assert patch({"userName": "b"}, {"op": "add", "path": "name.middleName", "value": "J"}).doc["name"] == {
        "middleName": "J"
    }


def test_add_appends_to_a_multi_valued_attribute() -> None:
    """``add`` of a multi-valued attribute appends the new values."""
    doc = patch(user(), {"op": "add", "path": "emails", "value": [{"value": "b@x", "type": "other"}]}).doc
    assert doc["emails"] == [*BJENSEN["emails"], {"value": "b@x", "type": "other"}]


def test_add_does_not_duplicate_an_existing_value() -> None:
    """A value already present is not added again (§3.5.2.1: no change)."""
    emails = copy.deepcopy(BJENSEN["emails"])
    doc = patch(user(), {"op": "add", "path": "emails", "value": emails}).doc
    assert doc["emails"] == BJENSEN["emails"]


def test_add_compares_values_as_the_schema_does() -> None:
    """An email differing only in case is already there: emails.value is not caseExact."""
    value = [{"value": "BJENSEN@example.com", "type": "Work", "primary": True}]
    assert patch(user(), {"op": "add", "path": "emails", "value": value}).doc == BJENSEN


def test_add_single_object_to_multi_valued_attribute() -> None:
    """A lone object added to a multi-valued attribute is one new value."""
    doc = patch({"userName": "b"}, {"op": "add", "path": "roles", "value": {"value": "Admin"}}).doc
    assert doc["roles"] == [{"value": "Admin"}]


def test_add_primary_value_unmarks_the_others() -> None:
    """A value added with primary true makes the others primary false (RFC 7644 §3.5.2)."""
    doc = patch(user(), {"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": True}]}).doc
    assert [e.get("primary") for e in doc["emails"]] == [False, None, True]


def test_add_two_primary_values_is_refused() -> None:
    """Adding two values with primary true in one operation is invalidValue."""
    value = [{"value": "n@x", "primary": True}, {"value": "m@x", "primary": True}]
    with pytest.raises(InvalidValue, match="more than one value with primary true"):
        patch(user(), {"op": "add", "path": "emails", "value": value})


def test_add_through_filter_sets_the_sub_attribute_of_matching_values() -> None:
    """``add emails[type eq "home"].display`` sets display on the home email only."""
    doc = patch(user(), {"op": "add", "path": 'emails[type eq "home"].display', "value": "Home"}).doc
    assert doc["emails"][1] == {"value": "babs@jensen.org", "type": "home", "display": "Home"}
    assert "display" not in doc["emails"][0]


def test_add_through_filter_merges_into_matching_values() -> None:
    """``add emails[type eq "home"]`` with an object merges it into the matching values."""
    doc = patch(user(), {"op": "add", "path": 'emails[type eq "home"]', "value": {"display": "H"}}).doc
    assert doc["emails"][1] == {"value": "babs@jensen.org", "type": "home", "display": "H"}


def test_add_extension_attribute_by_urn_path() -> None:
    """``add urn:…:enterprise:2.0:User:department`` stores it nested under the URN."""
    path = f"{ENTERPRISE}:department"
    assert patch(user(), {"op": "add", "path": path, "value": "Tech"}).doc[ENTERPRISE] == {
        "department": "Tech"
    }


def test_add_extension_complex_sub_attribute_by_urn_path() -> None:
    """``add urn:…:User:manager.value`` creates the extension and the complex attribute."""
    doc = patch(user(), {"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": "m1"}).doc
    assert doc[ENTERPRISE] == {"manager": {"value": "m1"}}


def test_add_by_bare_extension_urn_merges_into_the_extension() -> None:
    """``add`` with the extension URN alone as path adds its attributes, keeping the others."""
    value = {"department": "Tech", "manager": {"value": "m1"}}
    extended = user(**{ENTERPRISE: {"costCenter": "41"}})
    doc = patch(extended, {"op": "add", "path": ENTERPRISE, "value": value}).doc
    assert doc[ENTERPRISE] == {"costCenter": "41", "department": "Tech", "manager": {"value": "m1"}}


def test_replace_by_bare_extension_urn_in_any_case() -> None:
    """``replace`` with the extension URN alone (any case) acts as the path-less ``{urn: value}``."""
    doc = patch(
        user(**{ENTERPRISE: {"department": "Old", "costCenter": "41"}}),
        {"op": "replace", "path": ENTERPRISE.upper(), "value": {"department": "New", "costCenter": None}},
    ).doc
    assert doc[ENTERPRISE] == {"department": "New"}


def test_remove_by_bare_extension_urn_removes_the_extension() -> None:
    """``remove`` with the extension URN alone unassigns all of its attributes (RFC 7643 §3 container)."""
    extended = user(**{ENTERPRISE: {"department": "T", "manager": {"value": "m1"}}})
    assert patch(extended, {"op": "remove", "path": ENTERPRISE}).doc == BJENSEN
    assert patch(user(), {"op": "remove", "path": ENTERPRISE}).doc == BJENSEN  # nothing there: succeeds


def test_bare_extension_urn_path_value_is_checked() -> None:
    """The value for a bare extension URN must be an object of its attributes; remove takes none."""
    with pytest.raises(InvalidValue, match="must be an object of EnterpriseUser attributes"):
        patch(user(), {"op": "replace", "path": ENTERPRISE, "value": "Tech"})
    with pytest.raises(InvalidValue, match="'badge' is not an attribute of urn"):
        patch(user(), {"op": "add", "path": ENTERPRISE, "value": {"badge": "7"}})
    with pytest.raises(InvalidValue, match="remove takes no value"):
        patch(user(), {"op": "remove", "path": ENTERPRISE, "value": {"department": "T"}})


def test_bare_core_urn_is_no_path() -> None:
    """The core schema URN alone names no attribute: the resource itself is patched without a path."""
    with pytest.raises(InvalidPath):
        patch(user(), {"op": "replace", "path": USER_SCHEMA.id, "value": {"title": "T"}})


def test_pathless_add_merges_each_key() -> None:
    """Path-less ``add``: each key is added as if it were the path, in any case and URN form."""
    value = {
        "NICKNAME": "Babs",
        "name": {"middleName": "J"},
        f"{ENTERPRISE}:department": "Tech",
        ENTERPRISE.upper(): {"costCenter": "41"},
        "emails": [{"value": "n@x"}],
        "schemas": ["ignored"],
    }
    doc = patch(user(), {"op": "add", "value": value}).doc
    assert doc["nickName"] == "Babs"
    assert doc["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"}
    assert doc[ENTERPRISE] == {"department": "Tech", "costCenter": "41"}
    assert len(doc["emails"]) == 3


def test_pathless_add_ignores_null_keys() -> None:
    """A null in a path-less ``add`` adds nothing and removes nothing."""
    assert patch(user(title="T"), {"op": "add", "value": {"title": None}}).doc["title"] == "T"


def test_pathless_add_ignores_unknown_extensions() -> None:
    """Keys under unknown schema URNs in a path-less value are ignored, as in POST."""
    value = {"urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge": "7"}
    assert patch(user(), {"op": "add", "value": value}).doc == BJENSEN


def test_pathless_value_with_unknown_attribute_is_refused() -> None:
    """An unknown attribute in a path-less value is invalidValue naming it."""
    with pytest.raises(InvalidValue, match=r"Operations\[0\]: 'nick' is not an attribute of User"):
        patch(user(), {"op": "add", "value": {"nick": "B"}})


def test_pathless_value_with_read_only_attribute_is_refused() -> None:
    """A readOnly attribute in a path-less value is a mutability error."""
    with pytest.raises(Mutability, match="meta is readOnly"):
        patch(user(), {"op": "replace", "value": {"meta": {"version": "1"}}})


def _okta_rename(id: str) -> PatchResult:
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": id, "displayName": "B"}}]}
    return apply_patch(GROUP, {"displayName": "A"}, read_patch(GROUP, body), unchanged={"id": "g1"})


def test_pathless_value_repeating_the_resource_id_is_accepted() -> None:
    """A path-less replace whose value carries the resource's own id renames it (Okta, RFC 7643 §7)."""
    assert _okta_rename("g1").doc == {"displayName": "B"}


def test_pathless_value_with_another_id_is_refused_naming_both() -> None:
    """A path-less value whose id differs from the resource's is a mutability error naming both ids."""
    with pytest.raises(
        Mutability, match=r"Operations\[0\]: id is readOnly: 'g2' is not this resource's id 'g1'"
    ):
        _okta_rename("g2")


def test_pathless_id_is_compared_exactly() -> None:
    """The id is caseExact: the same letters in another case are another id."""
    with pytest.raises(Mutability, match="'G1' is not this resource's id"):
        _okta_rename("G1")


def test_pathless_id_without_a_known_id_is_refused() -> None:
    """Without the resource's id to compare with, a path-less id stays refused."""
    with pytest.raises(Mutability, match="id is readOnly"):
        patch({"displayName": "A"}, {"op": "replace", "value": {"id": "g1"}}, resource_type=GROUP)


def test_add_value_is_type_checked() -> None:
    """The value of an operation is checked against its target's type."""
    with pytest.raises(InvalidValue, match=r"Operations\[0\]: active must be true or false"):
        patch(user(), {"op": "add", "path": "active", "value": "maybe"})


# -- replace (RFC 7644 §3.5.2.3) -------------------------------------------------------------


def test_replace_single_valued_attribute() -> None:
    """``replace`` of a single-valued attribute sets it, present or not."""
    assert patch(user(), {"op": "replace", "path": "displayName", "value": "B"}).doc["displayName"] == "B"


def test_replace_complex_attribute_keeps_unspecified_sub_attributes() -> None:
    """``replace name`` sets the sub-attributes given and leaves the others (§3.5.2.3)."""
    doc = patch(user(), {"op": "replace", "path": "name", "value": {"givenName": "Babs"}}).doc
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_replace_complex_attribute_null_sub_attribute_unassigns_it() -> None:
    """A null sub-attribute in a ``replace`` of a complex attribute unassigns it."""
    doc = patch(
        user(), {"op": "replace", "path": "name", "value": {"givenName": "Babs", "familyName": None}}
    ).doc
    assert doc["name"] == {"givenName": "Babs"}


def test_replace_multi_valued_attribute_replaces_all_values() -> None:
    """``replace emails`` without a filter replaces the attribute and all values."""
    doc = patch(user(), {"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}).doc
    assert doc["emails"] == [{"value": "only@x"}]


def test_replace_with_null_unassigns() -> None:
    """``replace`` with null removes the target (RFC 7643 §2.5: null is unassigned)."""
    assert "name" not in patch(user(), {"op": "replace", "path": "name", "value": None}).doc
    assert "emails" not in patch(user(), {"op": "replace", "path": "emails", "value": []}).doc


def test_replace_through_filter_replaces_matching_values_whole() -> None:
    """``replace emails[type eq "home"]`` replaces each matching value whole (§3.5.2.3)."""
    doc = patch(user(), {"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "h@x"}}).doc
    assert doc["emails"] == [BJENSEN["emails"][0], {"value": "h@x"}]


def test_replace_through_filter_sets_sub_attribute() -> None:
    """``replace emails[type eq "work"].value`` changes the work email only."""
    doc = patch(user(), {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@x"}).doc
    assert doc["emails"][0] == {"value": "new@x", "type": "work", "primary": True}
    assert doc["emails"][1] == BJENSEN["emails"][1]


def test_replace_primary_through_filter_unmarks_the_others() -> None:
    """``replace emails[type eq "home"].primary`` true makes the work email primary false."""
    doc = patch(user(), {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}).doc
    assert [e.get("primary") for e in doc["emails"]] == [False, True]


def test_replace_through_filter_matching_nothing_creates_the_described_value() -> None:
    """``Replace emails[type eq "work"].value`` creates a missing email (docs/entra-client.md quirk #5)."""
    result = patch({"userName": "b"}, {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "x"})
    assert result.doc["emails"] == [{"type": "work", "value": "x"}]


def test_add_through_and_filter_matching_nothing_creates_the_described_value() -> None:
    """An ``and`` of equalities describes the value to create."""
    path = 'addresses[type eq "work" and country eq "US"].locality'
    doc = patch({"userName": "b"}, {"op": "add", "path": path, "value": "Hollywood"}).doc
    assert doc["addresses"] == [{"type": "work", "country": "US", "locality": "Hollywood"}]


def test_replace_primary_filter_with_string_literal() -> None:
    """``roles[primary eq "True"].value`` finds primary true or creates it (docs/entra-client.md quirk #6)."""
    path = 'roles[primary eq "True"].value'
    created = patch({"userName": "b"}, {"op": "Add", "path": path, "value": "Reader"}).doc
    assert created["roles"] == [{"primary": True, "value": "Reader"}]
    switched = patch(created, {"op": "Replace", "path": path, "value": "Admin"}).doc
    assert switched["roles"] == [{"primary": True, "value": "Admin"}]


def test_unmatched_filter_that_is_no_equality_is_no_target() -> None:
    """A filter that matches nothing and pins no values is noTarget (§3.5.2.3)."""
    for path in [
        'emails[type ne "x"].value',
        'emails[value co "@x"].value',
        'emails[type eq "a" or type eq "b"].value',
    ]:
        with pytest.raises(NoTarget, match=r"Operations\[0\]: no value of emails matches"):
            patch({"userName": "b"}, {"op": "replace", "path": path, "value": "v"})


def test_strict_dialect_does_not_create_unmatched_values() -> None:
    """Without the tolerance, an unmatched filter is noTarget as the RFC says."""
    with pytest.raises(NoTarget):
        patch(
            {"userName": "b"},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"},
            dialect=STRICT,
        )


def test_created_value_must_agree_with_the_filter() -> None:
    """A value that contradicts the equality it is created from is invalidValue."""
    with pytest.raises(InvalidValue, match="contradicts the filter"):
        patch({"userName": "b"}, {"op": "add", "path": 'emails[type eq "work"]', "value": {"type": "home"}})


def test_pathless_replace_replaces_each_key() -> None:
    """Path-less ``replace``: each key replaced; null unassigns; complex values merge."""
    value = {"displayName": "B", "title": None, "name": {"givenName": "Babs"}, "active": "False"}
    doc = patch(user(title="T"), {"op": "replace", "value": value}).doc
    assert doc["displayName"] == "B"
    assert "title" not in doc
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen"}
    assert doc["active"] is False


def test_pathless_replace_null_extension_removes_it() -> None:
    """A null extension object in a path-less replace unassigns all its attributes."""
    doc = patch(user(**{ENTERPRISE: {"department": "T"}}), {"op": "replace", "value": {ENTERPRISE: None}}).doc
    assert ENTERPRISE not in doc


def test_replace_sub_attribute_of_every_value_without_filter() -> None:
    """``replace emails.type`` without a filter sets the sub-attribute of every value, of none when none."""
    doc = patch(user(), {"op": "replace", "path": "emails.type", "value": "other"}).doc
    assert [e["type"] for e in doc["emails"]] == ["other", "other"]
    assert patch({"userName": "b"}, {"op": "add", "path": "emails.type", "value": "work"}).doc == {
        "userName": "b"
    }


# -- remove (RFC 7644 §3.5.2.2) --------------------------------------------------------------


def test_remove_single_valued_attribute() -> None:
    """``remove`` of an attribute unassigns it."""
    assert "name" not in patch(user(), {"op": "remove", "path": "name"}).doc


def test_remove_absent_attribute_succeeds() -> None:
    """Removing what is not there succeeds: Entra re-sends removes."""
    assert patch(user(), {"op": "remove", "path": "nickName"}).doc == BJENSEN


def test_remove_sub_attribute_and_empty_complex() -> None:
    """Removing the last sub-attribute of a complex attribute removes the attribute."""
    doc = patch({"userName": "b", "name": {"givenName": "B"}}, {"op": "remove", "path": "name.givenName"}).doc
    assert doc == {"userName": "b"}


def test_remove_values_through_filter() -> None:
    """``remove emails[type eq "home"]`` removes the matching values only."""
    doc = patch(user(), {"op": "remove", "path": 'emails[type eq "home"]'}).doc
    assert doc["emails"] == [BJENSEN["emails"][0]]


def test_remove_last_value_removes_the_attribute() -> None:
    """When no value remains, the multi-valued attribute is unassigned."""
    doc = patch(user(), {"op": "remove", "path": 'emails[value co "@"]'}).doc
    assert "emails" not in doc


def test_remove_through_filter_matching_nothing_succeeds() -> None:
    """A remove whose filter matches nothing changes nothing and succeeds (idempotent)."""
    assert patch(user(), {"op": "remove", "path": 'emails[type eq "other"]'}).doc == BJENSEN


def test_remove_sub_attribute_through_filter() -> None:
    """``remove emails[type eq "work"].primary`` removes that sub-attribute of matching values."""
    doc = patch(user(), {"op": "remove", "path": 'emails[type eq "work"].primary'}).doc
    assert doc["emails"][0] == {"value": "bjensen@example.com", "type": "work"}


def test_remove_last_extension_attribute_removes_the_extension() -> None:
    """Removing the only enterprise attribute removes the extension object."""
    doc = patch(
        user(**{ENTERPRISE: {"employeeNumber": "1"}}),
        {"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"},
    )
    assert ENTERPRISE not in doc.doc


def test_remove_with_value_removes_the_listed_values() -> None:
    """``remove emails`` with a value removes the values it lists, matched on what it gives."""
    doc = patch(user(), {"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}).doc
    assert doc["emails"] == [BJENSEN["emails"][0]]


def test_remove_with_value_is_refused_when_strict() -> None:
    """Without the tolerance, a remove carrying a value is invalidValue."""
    with pytest.raises(InvalidValue, match="remove takes no value"):
        patch(user(), {"op": "remove", "path": "emails", "value": [{"value": "x"}]}, dialect=STRICT)


def test_remove_with_value_on_single_valued_attribute_is_refused() -> None:
    """A value on a remove of a single-valued attribute is invalidValue, never a silent removal."""
    with pytest.raises(InvalidValue, match="remove takes no value"):
        patch(user(title="T"), {"op": "remove", "path": "title", "value": "T"})


def test_remove_required_attribute_is_refused() -> None:
    """Removing userName leaves a User without a required attribute: invalidValue."""
    with pytest.raises(InvalidValue, match="userName is required"):
        patch(user(), {"op": "remove", "path": "userName"})
    with pytest.raises(InvalidValue, match="userName is required and must not be empty"):
        patch(user(), {"op": "replace", "path": "userName", "value": ""})


# -- mutability and password -----------------------------------------------------------------


def _with_immutable() -> ResourceType:
    badge = Attribute("badge", mutability="immutable")
    extension = Schema("urn:ietf:params:scim:schemas:extension:test:2.0:User", "T", "T", (badge,))
    return ResourceType("User", "/Users", "U", USER_SCHEMA, (extension,))


def test_immutable_attribute_may_be_added_once() -> None:
    """An immutable attribute may be added while unassigned, and set again to the same value."""
    rtype = _with_immutable()
    path = "urn:ietf:params:scim:schemas:extension:test:2.0:User:badge"
    doc = patch({"userName": "b"}, {"op": "add", "path": path, "value": "7"}, resource_type=rtype).doc
    assert patch(doc, {"op": "replace", "path": path, "value": "7"}, resource_type=rtype).doc == doc
    with pytest.raises(Mutability, match="badge is immutable"):
        patch(doc, {"op": "replace", "path": path, "value": "8"}, resource_type=rtype)
    with pytest.raises(Mutability, match="badge is immutable"):
        patch(doc, {"op": "remove", "path": path}, resource_type=rtype)


def test_password_goes_to_the_result_not_the_doc() -> None:
    """A password set by PATCH is returned apart and never stored in the doc."""
    result = patch(user(), {"op": "replace", "path": "password", "value": "n3w"})
    assert (result.password, "password" in result.doc) == ("n3w", False)
    assert patch(user(), {"op": "add", "value": {"PASSWORD": "p"}}).password == "p"
    assert patch(user(), {"op": "add", "path": "title", "value": "t"}).password is None


# -- members ---------------------------------------------------------------------------------


def test_add_members_is_a_delta() -> None:
    """``add members`` lists the members to insert, without loading the others."""
    change = group_patch(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}, {"value": "u2"}]}
    )
    assert change == MemberChange(add=[{"value": "u1"}, {"value": "u2"}])


def test_add_single_member_object() -> None:
    """A lone member object is one member to add."""
    assert group_patch({"op": "add", "path": "members", "value": {"value": "u1"}}) == MemberChange(
        add=[{"value": "u1"}]
    )


def test_remove_members_without_value_clears_them() -> None:
    """``remove members`` with no value and no filter removes all members (§3.5.2.2)."""
    assert group_patch({"op": "remove", "path": "members"}) == MemberChange(clear=True)


def test_remove_members_by_value_filter() -> None:
    """``remove members[value eq "u1"]`` removes that member only; ``or`` lists several."""
    assert group_patch({"op": "remove", "path": 'members[value eq "u1"]'}) == MemberChange(remove={"u1"})
    path = 'members[value eq "u1" or value eq "u2" or value eq "u3"]'
    assert group_patch({"op": "remove", "path": path}) == MemberChange(remove={"u1", "u2", "u3"})


def test_remove_members_with_value_array_removes_only_those() -> None:
    """``Remove members`` with a value array removes those, never all (docs/entra-client.md quirk #7)."""
    change = group_patch({"op": "Remove", "path": "members", "value": [{"value": "u1"}]})
    assert change == MemberChange(remove={"u1"})
    assert group_patch({"op": "Remove", "path": "members", "value": []}) is None  # removes nothing


def test_replace_members_clears_then_adds() -> None:
    """``replace members`` is clear + add."""
    change = group_patch({"op": "replace", "path": "members", "value": [{"value": "u1"}]})
    assert change == MemberChange(clear=True, add=[{"value": "u1"}])


def test_pathless_member_operations() -> None:
    """A ``members`` key in a path-less add adds; in a path-less replace it clears then adds."""
    assert group_patch({"op": "add", "value": {"members": [{"value": "u1"}]}}) == MemberChange(
        add=[{"value": "u1"}]
    )
    change = group_patch({"op": "replace", "value": {"displayName": "Ops", "members": [{"value": "u2"}]}})
    assert change == MemberChange(clear=True, add=[{"value": "u2"}])


def test_add_then_remove_member_cancels_the_add() -> None:
    """Operations apply in order: add u1 then remove u1 leaves u1 out."""
    change = group_patch(
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u1"]'},
    )
    assert change == MemberChange(add=[{"value": "u2"}], remove={"u1"})


def test_remove_then_add_member_keeps_it() -> None:
    """Remove u1 then add u1 leaves u1 in."""
    change = group_patch(
        {"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
    )
    assert change == MemberChange(add=[{"value": "u1"}])


def test_clear_then_add_then_remove() -> None:
    """After a clear, a removed member is only dropped from the adds."""
    change = group_patch(
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u2"]'},
    )
    assert change == MemberChange(clear=True, add=[{"value": "u1"}])


def test_group_patch_without_member_operations_has_no_member_change() -> None:
    """A Group PATCH that does not touch members reports None, and the doc never holds members."""
    result = patch(
        {"displayName": "A"}, {"op": "replace", "path": "displayName", "value": "B"}, resource_type=GROUP
    )
    assert (result.doc, result.members) == ({"displayName": "B"}, None)


def test_malformed_member_in_operation_is_refused() -> None:
    """A member without an id is invalidValue naming the operation."""
    with pytest.raises(InvalidValue, match=r"Operations\[0\]: members\[0\].value is required"):
        group_patch({"op": "add", "path": "members", "value": [{"display": "x"}]})


# -- atomicity -------------------------------------------------------------------------------


def test_input_document_is_never_mutated() -> None:
    """apply_patch works on a copy: the document passed in is unchanged."""
    doc = user()
    before = copy.deepcopy(doc)
    patch(
        doc,
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"},
        {"op": "remove", "path": "name"},
    )
    assert doc == before


def test_failing_operation_aborts_the_whole_patch() -> None:
    """An error in a later operation raises and leaves the document as it was."""
    doc = user()
    before = copy.deepcopy(doc)
    with pytest.raises(InvalidValue, match=r"Operations\[1\]"):
        patch(
            doc,
            {"op": "replace", "path": "name.givenName", "value": "X"},
            {"op": "add", "path": "active", "value": 3},
        )
    assert doc == before


# -- Entra samples (docs/entra-client.md §2, §4.2) --------------------------------------------


def test_entra_replace_multiple_attributes_without_flag() -> None:
    """Entra's default "replace multiple attributes" PATCH applies to a user without emails."""
    ops = [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "E1"},
    ]
    doc = patch({"userName": "u"}, *ops).doc
    assert doc == {
        "userName": "u",
        "displayName": "Pvlo",
        "emails": [{"type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
        "name": {"givenName": "Gtfd", "familyName": "Pkqf"},
        "externalId": "Eqpj",
        ENTERPRISE: {"employeeNumber": "E1"},
    }


def test_entra_disable_user_with_string_boolean() -> None:
    """Entra's ``Replace active "False"`` sets active false."""
    assert (
        patch(user(active=True), {"op": "Replace", "path": "active", "value": "False"}).doc["active"] is False
    )


def test_entra_mixed_patch_with_flag() -> None:
    """The 2020 flagged sample: primary through filter, then path-less replace."""
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "someone@contoso.com"},
        {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True},
        {"op": "replace", "value": {"active": False, "userName": "someone"}},
    ]
    doc = patch({"userName": "x", "active": True}, *ops).doc
    assert doc == {
        "userName": "someone",
        "active": False,
        "emails": [{"type": "work", "value": "someone@contoso.com", "primary": True}],
    }


# -- filters on a single-valued complex attribute (Entra's manager, docs/entra-client.md quirk #9)


MANAGER = f"{ENTERPRISE}:manager"


def test_remove_manager_through_filter_when_it_matches() -> None:
    """``remove manager[value eq "m1"]`` removes the manager when it is m1, and nothing otherwise."""
    doc = user(**{ENTERPRISE: {"manager": {"value": "m1"}, "department": "T"}})
    assert patch(doc, {"op": "remove", "path": f'{MANAGER}[value eq "m1"]'}).doc[ENTERPRISE] == {
        "department": "T"
    }
    assert patch(doc, {"op": "remove", "path": f'{MANAGER}[value eq "m2"]'}).doc == doc


def test_replace_through_filter_on_single_valued_attribute() -> None:
    """A filter on a single-valued complex attribute sees its value as a list of one."""
    doc = user(**{ENTERPRISE: {"manager": {"value": "m1"}}})
    path = f'{MANAGER}[value eq "m1"].$ref'
    changed = patch(doc, {"op": "replace", "path": path, "value": "https://x/Users/m1"}).doc
    assert changed[ENTERPRISE] == {"manager": {"value": "m1", "$ref": "https://x/Users/m1"}}
    created = patch(user(), {"op": "add", "path": path, "value": "https://x/Users/m1"}).doc
    assert created[ENTERPRISE] == {"manager": {"value": "m1", "$ref": "https://x/Users/m1"}}
    with pytest.raises(NoTarget, match="does not match the filter"):
        patch(doc, {"op": "add", "path": f'{MANAGER}[value eq "m2"].$ref', "value": "https://x/Users/m2"})


def test_long_or_chain_of_member_ids() -> None:
    """MAX_TERMS ``value eq`` joined by ``or`` are read without deep recursion."""
    ids = [f"u{i}" for i in range(MAX_TERMS)]
    path = "members[" + " or ".join(f'value eq "{i}"' for i in ids) + "]"
    assert group_patch({"op": "remove", "path": path}) == MemberChange(remove=set(ids))


def test_pathless_add_with_null_members_changes_nothing() -> None:
    """``members: null`` in a path-less add adds no member and reports no member change."""
    assert group_patch({"op": "add", "value": {"members": None, "displayName": "B"}}) is None


def test_empty_path_is_no_path() -> None:
    """``"path": ""`` targets the resource itself, like a missing path."""
    assert patch(user(), {"op": "replace", "path": "", "value": {"title": "T"}}).doc["title"] == "T"
