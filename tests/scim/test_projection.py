from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimhub.errors import InvalidValue
from scimhub.query.paths import AttrRef
from scimhub.query.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    USER,
    Attribute,
    ResourceType,
    Schema,
)
from scimhub.scim.attribute_lists import read_attribute_list
from scimhub.scim.projection import Projection

ENTERPRISE_MANAGER = f"{ENTERPRISE_USER}:manager"


def _user() -> dict[str, Any]:
    """Return a full User representation with every kind of attribute the rules distinguish."""
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "id": "2819c223",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "password": "never-returned",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
            {"type": "other"},
        ],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides", "type": "direct"}],
        ENTERPRISE_USER: {
            "department": "Tour Operations",
            "manager": {"value": "26118915", "displayName": "John"},
        },
        "meta": {
            "resourceType": "User",
            "location": "https://example.com/v2/Users/2819c223",
            "version": 'W/"3"',
        },
    }


def _group() -> dict[str, Any]:
    return {
        "schemas": [CORE_GROUP],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "$ref": "https://example.com/v2/Users/2819c223", "type": "User"}],
        "meta": {"resourceType": "Group", "location": "https://example.com/v2/Groups/e9e30dba"},
    }


def _names(refs: tuple[AttrRef, ...] | None) -> list[str] | None:
    return None if refs is None else [str(ref) for ref in refs]


def _project(
    attributes: str | None = None, excluded: str | None = None, resource: dict[str, Any] | None = None
) -> dict[str, Any]:
    projection = Projection.read(USER, attributes, excluded)
    return projection.apply(resource if resource is not None else _user())


# read_attribute_list


@pytest.mark.parametrize("text", [None, "", "  ", " , "])
def test_absent_or_blank_parameter_reads_as_none(text: str | None) -> None:
    """An absent or blank parameter is no parameter: None, not an empty selection."""
    assert read_attribute_list(USER, text) is None


def test_names_are_trimmed_case_insensitive_and_canonical() -> None:
    """Names are comma-separated, trimmed and case-insensitive; they resolve to canonical names."""
    assert _names(read_attribute_list(USER, " USERNAME , name.GIVENname,emails.Value ")) == [
        "userName",
        "name.givenName",
        "emails.value",
    ]


def test_urn_qualified_names_resolve_to_the_extension() -> None:
    """A URN-qualified name (RFC 7644 §3.10) resolves to the extension attribute, in any case."""
    (ref,) = read_attribute_list(USER, ENTERPRISE_MANAGER.upper() + ".VALUE") or ()

    assert ref.schema is not None and ref.schema.id == ENTERPRISE_USER
    assert ref.keys == (ENTERPRISE_USER, "manager", "value")


def test_core_urn_qualified_names_resolve_like_bare_ones() -> None:
    """``urn:…:core:2.0:User:userName`` is userName, and the core URN on id or meta is tolerated."""
    names = f"{CORE_USER}:userName,{CORE_USER}:id,{CORE_USER}:meta.lastModified"

    assert _names(read_attribute_list(USER, names)) == ["userName", "id", "meta.lastModified"]


def test_a_bare_extension_urn_names_every_attribute_of_the_extension() -> None:
    """A bare extension URN stands for the whole extension object."""
    refs = read_attribute_list(USER, ENTERPRISE_USER) or ()

    assert {ref.attribute.name for ref in refs} == {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    }
    assert all(ref.is_extension for ref in refs)


def test_unknown_names_are_ignored() -> None:
    """Names that name nothing here (unknown attribute, sub-attribute, schema, or depth) are ignored."""
    text = "nickname.foo,frobnicate,urn:example:Pet:name,name.givenName.x,userName"

    assert _names(read_attribute_list(USER, text)) == ["userName"]


def test_only_unknown_names_read_as_an_empty_selection() -> None:
    """``attributes=foo`` is a selection of nothing, not an absent parameter."""
    assert read_attribute_list(USER, "foo") == ()


def test_duplicate_names_are_read_once() -> None:
    """A name repeated in another case is read once, in first position."""
    assert _names(read_attribute_list(USER, "userName,emails,USERNAME")) == ["userName", "emails"]


def test_search_request_lists_are_read_name_by_name() -> None:
    """A SearchRequest's list of names (RFC 7644 §3.4.3) reads like the comma-separated parameter."""
    assert _names(read_attribute_list(USER, ["userName", " emails.value"])) == ["userName", "emails.value"]


def test_a_list_holding_something_else_than_names_is_invalid() -> None:
    """A SearchRequest ``attributes`` holding a number is InvalidValue."""
    with pytest.raises(InvalidValue, match="attributes must be a list of attribute names"):
        read_attribute_list(USER, ["userName", 3])  # type: ignore[list-item]


def test_value_filter_in_attributes_names_the_attribute() -> None:
    """Microsoft's ``attributes=emails[type eq "work"]`` reads as emails; ``…].value`` as emails.value."""
    text = 'emails[type eq "work"], emails[value eq "a,b]c"].value'

    assert _names(read_attribute_list(USER, text)) == ["emails", "emails.value"]


def test_value_filter_in_excluded_attributes_is_invalid() -> None:
    """In excludedAttributes a value filter would widen the exclusion, so it is InvalidValue naming it."""
    with pytest.raises(InvalidValue, match=r"^excludedAttributes: 'emails\[type eq \"work\"\]' filters"):
        read_attribute_list(USER, 'emails[type eq "work"]', "excludedAttributes")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('emails[type eq "work"', "'\\[' that is never closed"),
        ('emails[type eq "work]', "string that is never closed"),
        ("emails]", "closes no '\\['"),
        ("emails[type[x]]", "'\\[' inside a value filter"),
        ('emails[type eq "work"]value', "'value' after '\\]' is not a sub-attribute"),
    ],
)
def test_malformed_lists_are_invalid_with_a_precise_detail(text: str, message: str) -> None:
    """Text that is not a list of names is InvalidValue, and the detail says what is wrong."""
    with pytest.raises(InvalidValue, match=message):
        read_attribute_list(USER, text)


# Projection: returned characteristics


def test_default_representation_drops_only_never_returned_attributes() -> None:
    """Without parameters everything is returned except ``returned: never`` (password)."""
    expected = _user()
    del expected["password"]

    assert Projection(USER).apply(_user()) == expected


def test_never_returned_attributes_are_dropped_even_when_asked_for() -> None:
    """``attributes=password`` still returns no password (RFC 7643 §7 ``never``)."""
    assert _project("password,userName") == {
        "schemas": [CORE_USER],
        "id": "2819c223",
        "userName": "bjensen@example.com",
    }


def test_id_and_schemas_survive_attributes() -> None:
    """``attributes`` keeps id (``always``) and schemas too, so Entra's ``attributes=id`` works."""
    assert _project("id") == {"schemas": [CORE_USER], "id": "2819c223"}


def test_excluded_attributes_has_no_effect_on_always_returned_attributes() -> None:
    """``excludedAttributes=id,schemas`` keeps both (RFC 7644 §3.4.2.5)."""
    projected = _project(excluded="id,schemas")

    assert projected["id"] == "2819c223"
    assert projected["schemas"] == [CORE_USER, ENTERPRISE_USER]


def test_meta_is_returned_by_default_only() -> None:
    """meta is ``returned: default`` (RFC 7643 §3.1): gone under attributes unless named, excludable."""
    assert "meta" not in _project("userName")
    assert _project("meta.lastModified,meta.version")["meta"] == {"version": 'W/"3"'}
    assert "meta" not in _project(excluded="meta")


def test_attributes_returns_only_what_it_names() -> None:
    """``attributes=externalId`` (scim2-tester's pick) returns externalId, id and schemas only."""
    assert _project("externalId") == {"schemas": [CORE_USER], "id": "2819c223", "externalId": "701984"}


def test_excluded_attributes_removes_only_what_it_names() -> None:
    """``excludedAttributes=name`` (scim2-tester's pick) removes name and leaves the default set."""
    projected = _project(excluded="name")

    assert "name" not in projected
    assert set(projected) == set(_user()) - {"name", "password"}


# Projection: sub-attributes


def test_a_named_sub_attribute_keeps_only_that_sub_attribute() -> None:
    """``attributes=name.givenName`` returns name with givenName alone."""
    assert _project("name.givenName")["name"] == {"givenName": "Barbara"}


def test_a_named_sub_attribute_is_kept_in_every_element() -> None:
    """``attributes=emails.value`` keeps value in each element and drops elements left empty."""
    emails = _project("emails.value")["emails"]

    assert emails == [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]


def test_a_multi_valued_attribute_left_empty_is_dropped() -> None:
    """No element has what was asked for: the attribute is unassigned, so absent."""
    user = _user()
    user["emails"] = [{"type": "work"}]

    assert "emails" not in _project("emails.value", resource=user)


def test_an_excluded_sub_attribute_is_removed_from_every_element() -> None:
    """``excludedAttributes=emails.type,name.familyName`` removes those sub-attributes only."""
    projected = _project(excluded="emails.type,name.familyName")

    assert projected["name"] == {"givenName": "Barbara"}
    assert projected["emails"][0] == {"value": "bjensen@example.com", "primary": True}


def test_naming_an_attribute_and_one_of_its_sub_attributes_returns_all_of_it() -> None:
    """``attributes=name,name.givenName`` returns the whole name."""
    assert _project("name.givenName,name")["name"] == _user()["name"]


def test_value_filter_returns_the_whole_attribute() -> None:
    """``attributes=emails[type eq "work"]`` is not evaluated: every email comes back (a superset)."""
    assert _project('emails[type eq "work"]')["emails"] == _user()["emails"]


# Projection: extensions and schemas


def test_extension_attributes_are_projected_under_their_urn() -> None:
    """``attributes=urn:…:manager.displayName`` keeps only that, under the extension URN key."""
    projected = _project(f"{ENTERPRISE_MANAGER}.displayName")

    assert projected[ENTERPRISE_USER] == {"manager": {"displayName": "John"}}
    assert projected["schemas"] == [CORE_USER, ENTERPRISE_USER]


def test_a_bare_extension_urn_returns_the_whole_extension_object() -> None:
    """``attributes=urn:…:enterprise:2.0:User`` returns the extension object whole."""
    assert _project(ENTERPRISE_USER)[ENTERPRISE_USER] == _user()[ENTERPRISE_USER]


def test_schemas_drops_the_extension_urn_when_its_object_is_gone() -> None:
    """The extension URN leaves ``schemas`` when the projection removes its object."""
    for projected in (_project("userName"), _project(excluded=ENTERPRISE_USER)):
        assert ENTERPRISE_USER not in projected
        assert projected["schemas"] == [CORE_USER]


def test_schemas_drops_the_extension_urn_when_every_attribute_is_excluded() -> None:
    """Excluding the extension's only present attributes leaves no object, so no URN."""
    projected = _project(excluded=f"{ENTERPRISE_USER}:department,{ENTERPRISE_MANAGER}")

    assert ENTERPRISE_USER not in projected
    assert projected["schemas"] == [CORE_USER]


# Projection: returned "request"

_SECRET = Attribute("secret", returned="request", description="Returned only on request.")
_BADGE = Attribute(
    "badge",
    "complex",
    description="Has one sub-attribute returned only on request.",
    sub_attributes=(Attribute("label"), Attribute("pin", returned="request")),
)
_DEVICE = ResourceType(
    "Device", "/Devices", "A test resource", Schema("urn:example:Device", "Device", "", (_SECRET, _BADGE))
)


def _device(attributes: str | None = None, excluded: str | None = None) -> dict[str, Any]:
    resource = {
        "schemas": ["urn:example:Device"],
        "id": "d1",
        "secret": "s",
        "badge": {"label": "L", "pin": "1234"},
    }
    return Projection.read(_DEVICE, attributes, excluded).apply(resource)


def test_request_returned_attributes_are_left_out_by_default() -> None:
    """``returned: request`` is absent without parameters and under excludedAttributes."""
    assert _device() == {"schemas": ["urn:example:Device"], "id": "d1", "badge": {"label": "L"}}
    assert "secret" not in _device(excluded="badge")


def test_request_returned_attributes_come_back_when_named() -> None:
    """``attributes=secret`` returns it (RFC 7643 §7 ``request``)."""
    assert _device("secret") == {"schemas": ["urn:example:Device"], "id": "d1", "secret": "s"}


def test_naming_a_parent_does_not_request_its_request_sub_attribute() -> None:
    """``attributes=badge`` leaves badge.pin out; ``attributes=badge.pin`` returns it."""
    assert _device("badge")["badge"] == {"label": "L"}
    assert _device("badge.pin")["badge"] == {"pin": "1234"}


# Projection: wants, construction, input handling


def test_excluded_members_are_not_wanted() -> None:
    """Under ``excludedAttributes=members`` the caller can skip reading Group members."""
    projection = Projection.read(GROUP, excluded_attributes="members")

    assert not projection.wants("members")
    assert "members" not in projection.apply(_group())


def test_wants_follows_attributes() -> None:
    """Under ``attributes`` only named attributes (or their parents) are wanted."""
    projection = Projection.read(GROUP, "displayName,members.value")

    assert projection.wants("DISPLAYNAME")
    assert projection.wants("members") and projection.wants("members.value")
    assert not projection.wants("members.display")
    assert not projection.wants("meta")
    assert projection.wants("id")


def test_wants_by_default() -> None:
    """By default User groups are wanted and the password is not; extensions are asked by URN."""
    projection = Projection(USER)

    assert projection.wants("groups")
    assert not projection.wants("password")
    assert projection.wants(ENTERPRISE_MANAGER)
    assert not Projection.read(USER, "userName").wants("groups")


def test_wants_rejects_an_unknown_name() -> None:
    """Asking about an attribute the resource type lacks is a programming error."""
    with pytest.raises(ValueError, match="'members' is not an attribute of User"):
        Projection(USER).wants("members")


def test_sending_both_parameters_is_invalid() -> None:
    """attributes and excludedAttributes are mutually exclusive (RFC 7644 §3.9)."""
    with pytest.raises(InvalidValue, match="mutually exclusive"):
        Projection.read(USER, "userName", "emails")
    with pytest.raises(ValueError, match="mutually exclusive"):
        Projection(USER, read_attribute_list(USER, "userName"), read_attribute_list(USER, "emails") or ())


def test_a_blank_parameter_does_not_clash_with_the_other() -> None:
    """``attributes=&excludedAttributes=members`` is read as excludedAttributes alone."""
    assert "members" not in Projection.read(GROUP, "", "members").apply(_group())


def test_apply_leaves_its_input_alone_and_keeps_key_order() -> None:
    """The resource passed in is not modified, and the result keeps its key order."""
    user = _user()
    before = copy.deepcopy(user)

    projected = _project("meta,userName,name.givenName", resource=user)

    assert user == before
    assert list(projected) == ["schemas", "id", "userName", "name", "meta"]


def test_keys_no_schema_defines_are_kept_only_without_attributes() -> None:
    """An undefined key passes through the default projection but not an ``attributes`` one."""
    user = _user() | {"x-debug": 1}

    assert _project(resource=user)["x-debug"] == 1
    assert _project(excluded="name", resource=user)["x-debug"] == 1
    assert "x-debug" not in _project("userName", resource=user)


_TOP_LEVEL = ["externalId", "userName", "name", "displayName", "emails", "groups", "meta", ENTERPRISE_USER]


@given(st.lists(st.sampled_from(_TOP_LEVEL), min_size=1, unique=True))
def test_attributes_never_return_more_than_asked(names: list[str]) -> None:
    """For any set of present attributes, ``attributes`` returns exactly them plus schemas and id."""
    projected = _project(",".join(names))

    assert set(projected) == {*names, "schemas", "id"}


@given(st.lists(st.sampled_from(_TOP_LEVEL), min_size=1, unique=True))
def test_excluded_attributes_never_return_what_they_name(names: list[str]) -> None:
    """For any set of names, ``excludedAttributes`` returns everything else but never what it names."""
    projected = _project(excluded=",".join(names))

    assert set(projected) == set(_user()) - {*names, "password"}
