from __future__ import annotations

import pytest

from scimhub.errors import InvalidSyntax, InvalidValue, Mutability
from scimhub.query.paths import resolve
from scimhub.query.schema import (
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    USER,
    USER_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)
from scimhub.scim.dialects import DEFAULT, STRICT, Dialect
from scimhub.scim.rules import ValueRule
from scimhub.scim.scalars import MAX_STRING_BYTES
from scimhub.scim.values import read_assignments, read_members, read_resource, read_value

ENTERPRISE = ENTERPRISE_USER


def user(**attrs: object) -> dict[str, object]:
    return {"schemas": [CORE_USER], "userName": "bjensen", **attrs}


# -- the body -----------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], "x", 3])
def test_body_must_be_an_object(body: object) -> None:
    """A body that is not a JSON object is invalidSyntax."""
    with pytest.raises(InvalidSyntax, match="must be a JSON object"):
        read_resource(USER, body)


def test_schemas_are_kept_as_sent() -> None:
    """``schemas`` is returned as sent, unknown URIs included (Entra's ADSCIM group schema)."""
    sent = [CORE_USER, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]
    assert read_resource(USER, user(schemas=sent)).schemas == tuple(sent)


def test_schemas_may_be_missing() -> None:
    """A body without ``schemas`` is read all the same (liberal)."""
    body = user()
    del body["schemas"]
    assert read_resource(USER, body).doc == {"userName": "bjensen"}


@pytest.mark.parametrize("schemas", ["urn", [1], {"a": 1}])
def test_schemas_must_be_a_list_of_strings(schemas: object) -> None:
    """``schemas`` that is not a list of strings is invalidSyntax."""
    with pytest.raises(InvalidSyntax, match="schemas"):
        read_resource(USER, user(schemas=schemas))


# -- names ------------------------------------------------------------------------


def test_names_are_matched_in_any_case_and_rewritten() -> None:
    """Attribute and sub-attribute names match in any case and come out canonical (RFC 7643 §2.1)."""
    doc = read_resource(USER, {"USERNAME": "b", "Name": {"GIVENNAME": "Barbara"}, "externalid": "e"}).doc
    assert doc == {"userName": "b", "name": {"givenName": "Barbara"}, "externalId": "e"}


def test_unknown_attribute_is_refused_by_name() -> None:
    """An attribute the core schema does not define is invalidValue naming it."""
    with pytest.raises(InvalidValue, match="'adreses' is not an attribute of User"):
        read_resource(USER, user(adreses=[]))


def test_unknown_sub_attribute_is_refused() -> None:
    """A sub-attribute the complex attribute does not define is invalidValue."""
    with pytest.raises(InvalidValue, match="'nick' is not a sub-attribute of name"):
        read_resource(USER, user(name={"nick": "B"}))


def test_same_attribute_twice_in_different_case_is_refused() -> None:
    """Two keys that name one attribute are ambiguous, so invalidValue."""
    with pytest.raises(InvalidValue, match="named twice"):
        read_resource(USER, {"userName": "a", "USERNAME": "b"})


def test_dotted_key_is_not_an_attribute_when_strict() -> None:
    """``name.givenName`` as a key is no RFC attribute name; only a dialect rule expands it."""
    with pytest.raises(InvalidValue, match="'name.givenName' is not an attribute"):
        read_resource(USER, user(**{"name.givenName": "B"}), dialect=STRICT)


# -- extensions ----------------------------------------------------------------------


def test_extension_nested_under_its_urn_in_any_case() -> None:
    """Extension attributes nested under the URN in any case are stored under the canonical URN."""
    doc = read_resource(USER, user(**{ENTERPRISE.upper(): {"DEPARTMENT": "Tour"}})).doc
    assert doc[ENTERPRISE] == {"department": "Tour"}


def test_extension_as_flat_urn_qualified_keys_is_nested() -> None:
    """Flat ``urn:…:User:department`` keys are stored nested, merged with a nested object."""
    body = user(**{f"{ENTERPRISE}:department": "Tour", ENTERPRISE: {"costCenter": "4130"}})
    assert read_resource(USER, body).doc[ENTERPRISE] == {"department": "Tour", "costCenter": "4130"}


def test_flat_urn_key_with_sub_attribute() -> None:
    """``urn:…:User:manager.value`` sets the sub-attribute of the extension's complex attribute."""
    doc = read_resource(USER, user(**{f"{ENTERPRISE}:manager.value": "m1"})).doc
    assert doc[ENTERPRISE] == {"manager": {"value": "m1"}}


def test_extension_attribute_named_twice_is_refused() -> None:
    """The same extension attribute nested and flat is ambiguous, so invalidValue."""
    body = user(**{f"{ENTERPRISE}:department": "a", ENTERPRISE: {"department": "b"}})
    with pytest.raises(InvalidValue, match="named twice"):
        read_resource(USER, body)


def test_core_urn_qualified_key() -> None:
    """``urn:…:core:2.0:User:userName`` is the core attribute (RFC 7644 §3.10)."""
    assert read_resource(USER, {f"{CORE_USER}:userName": "b"}).doc == {"userName": "b"}


def test_unknown_schema_urn_keys_are_ignored() -> None:
    """Keys under a schema URN we do not serve are ignored: custom extensions Entra sends."""
    body = user(**{"urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge": "7"})
    body["urn:ietf:params:scim:schemas:extension:Custom:2.0:User"] = {"badge": "7"}
    assert read_resource(USER, body).doc == {"userName": "bjensen"}


def test_unknown_attribute_of_known_extension_is_refused() -> None:
    """An attribute the enterprise extension does not define is invalidValue."""
    with pytest.raises(InvalidValue, match="'badge' is not an attribute of urn"):
        read_resource(USER, user(**{ENTERPRISE: {"badge": "7"}}))
    with pytest.raises(InvalidValue, match="is not an attribute of User"):
        read_resource(USER, user(**{f"{ENTERPRISE}:badge": "7"}))


def test_schemas_inside_an_extension_object_is_skipped() -> None:
    """A ``schemas`` key in an extension object (as scim2-models serializes one) is no attribute: skipped."""
    body = user(**{ENTERPRISE: {"schemas": [ENTERPRISE], "department": "Tour"}})
    assert read_resource(USER, body).doc[ENTERPRISE] == {"department": "Tour"}


def test_extension_object_must_be_an_object() -> None:
    """A value under an extension URN that is not an object is invalidValue."""
    with pytest.raises(InvalidValue, match="must be an object"):
        read_resource(USER, user(**{ENTERPRISE: "x"}))


def test_empty_extension_is_not_stored() -> None:
    """An extension object left empty after nulls are dropped is not stored."""
    assert ENTERPRISE not in read_resource(USER, user(**{ENTERPRISE: {"department": None}})).doc


# -- readOnly, null, writeOnly ---------------------------------------------------------------


def test_read_only_attributes_are_ignored() -> None:
    """``id``, ``meta``, ``groups`` and ``manager.displayName`` are ignored in a body (RFC 7643 §2.2)."""
    body = user(
        id="x",
        meta={"resourceType": "User"},
        groups=[{"value": "g"}],
        **{ENTERPRISE: {"manager": {"value": "m", "displayName": "Boss"}}},
    )
    assert read_resource(USER, body).doc == {"userName": "bjensen", ENTERPRISE: {"manager": {"value": "m"}}}


def test_read_only_attribute_is_ignored_even_when_malformed() -> None:
    """A readOnly attribute is not even type-checked: it is dropped unread."""
    assert read_resource(USER, user(meta="garbage", id=7)).doc == {"userName": "bjensen"}


def test_read_only_attribute_is_refused_in_reject_mode() -> None:
    """PATCH reads path-less values with ``read_only="reject"``: a readOnly key is a mutability error."""
    with pytest.raises(Mutability, match="id is readOnly"):
        read_assignments(USER, {"id": "x"}, read_only="reject")


def test_nulls_are_dropped_everywhere() -> None:
    """Null means unassigned: dropped at the top, in complex values and in lists (RFC 7643 §2.5)."""
    body = user(
        nickName=None,
        name={"givenName": "B", "familyName": None},
        emails=[None, {"value": "a@example.com", "type": None}],
        addresses=None,
    )
    assert read_resource(USER, body).doc == {
        "userName": "bjensen",
        "name": {"givenName": "B"},
        "emails": [{"value": "a@example.com"}],
    }


def test_empty_list_and_empty_object_are_not_stored() -> None:
    """An empty list or an object of nulls is unassigned, so absent from the doc."""
    assert read_resource(USER, user(emails=[], name={"givenName": None}, roles=[{}])).doc == {
        "userName": "bjensen"
    }


def test_password_is_taken_out_of_the_doc() -> None:
    """The writeOnly password goes to ``Resource.password``, never into the doc."""
    resource = read_resource(USER, user(password="s3cret"))
    assert resource.password == "s3cret"
    assert "password" not in resource.doc


def test_password_value_is_never_echoed_in_errors() -> None:
    """An error on a writeOnly attribute names its JSON type, not its value."""
    with pytest.raises(InvalidValue) as error:
        read_resource(USER, user(password=12345678))
    assert "12345678" not in error.value.detail


# -- required ------------------------------------------------------------------------------


def test_user_name_is_required() -> None:
    """A User without userName is invalidValue ``userName is required``."""
    with pytest.raises(InvalidValue, match="userName is required"):
        read_resource(USER, {"displayName": "B"})


def test_null_required_attribute_is_missing() -> None:
    """A required attribute sent as null is missing."""
    with pytest.raises(InvalidValue, match="userName is required"):
        read_resource(USER, {"userName": None})


@pytest.mark.parametrize("blank", ["", "   "])
def test_required_string_must_not_be_blank(blank: str) -> None:
    """A required string that is empty or blank is invalidValue."""
    with pytest.raises(InvalidValue, match="userName is required and must not be empty"):
        read_resource(USER, {"userName": blank})


def test_group_display_name_is_required() -> None:
    """A Group without displayName is invalidValue."""
    with pytest.raises(InvalidValue, match="displayName is required"):
        read_resource(GROUP, {"members": []})


# -- types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"displayName": 5}, "displayName must be a string, not a number"),
        ({"active": "yes"}, "active must be true or false"),
        ({"active": 1}, "active must be true or false"),
        ({"name": "Barbara"}, "name must be an object"),
        ({"emails": [{"value": 5}]}, r"emails\[0\].value must be a string"),
        ({"emails": [5]}, r"emails\[0\] must be an object"),
        ({"profileUrl": ["x"]}, "profileUrl must be a string"),
    ],
)
def test_type_mismatch_is_refused(attrs: dict[str, object], message: str) -> None:
    """A value of the wrong JSON type is invalidValue naming the attribute (RFC 7643 §2.3)."""
    with pytest.raises(InvalidValue, match=message):
        read_resource(USER, user(**attrs))


def test_value_description_is_truncated() -> None:
    """An error quotes a wrong value, cut short so a huge value does not flood the log."""
    with pytest.raises(InvalidValue) as error:
        read_resource(USER, user(active="y" * 1000))
    assert len(error.value.detail) < 200


def test_string_longer_than_the_cap_is_refused() -> None:
    """A string over MAX_STRING_BYTES UTF-8 bytes is invalidValue."""
    read_resource(USER, user(title="x" * MAX_STRING_BYTES))
    with pytest.raises(InvalidValue, match="longer than"):
        read_resource(USER, user(title="x" * (MAX_STRING_BYTES + 1)))
    with pytest.raises(InvalidValue, match="longer than"):
        read_resource(USER, user(title="é" * (MAX_STRING_BYTES // 2 + 1)))


def test_strings_are_kept_as_sent() -> None:
    """Strings keep their case, spaces and form: Entra diffs what it reads back."""
    doc = read_resource(USER, user(phoneNumbers=[{"value": "55555555555 ", "type": "Work"}])).doc
    assert doc["phoneNumbers"] == [{"value": "55555555555 ", "type": "Work"}]


def _typed(kind: str) -> Attribute:
    return Attribute("x", kind)


@pytest.mark.parametrize("value", [0, -(2**63), 2**63 - 1])
def test_integer_in_64_bits_is_accepted(value: int) -> None:
    """An integer within 64 bits is kept."""
    assert read_value(_typed("integer"), value) == value


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**40])
def test_huge_number_is_refused(value: int) -> None:
    """An integer beyond 64 bits is invalidValue, for integer and decimal alike."""
    with pytest.raises(InvalidValue, match="out of range"):
        read_value(_typed("integer"), value)
    with pytest.raises(InvalidValue, match="out of range"):
        read_value(_typed("decimal"), value)


@pytest.mark.parametrize("value", [True, 1.5, "1"])
def test_integer_refuses_booleans_floats_and_strings(value: object) -> None:
    """An integer attribute takes a JSON integer only; true is not 1."""
    with pytest.raises(InvalidValue, match="must be an integer"):
        read_value(_typed("integer"), value)


@pytest.mark.parametrize("value", [1.5, 2, -0.0])
def test_decimal_takes_integers_and_floats(value: float) -> None:
    """A decimal attribute takes any finite JSON number."""
    assert read_value(_typed("decimal"), value) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "1.5"])
def test_decimal_refuses_non_numbers(value: object) -> None:
    """NaN, infinities, booleans and strings are no decimal."""
    with pytest.raises(InvalidValue, match="must be a decimal"):
        read_value(_typed("decimal"), value)


@pytest.mark.parametrize(
    "value",
    [
        "2008-01-23T04:56:22Z",
        "2008-01-23T04:56:22.123456789+05:30",
        "2008-01-23t04:56:22z",
        "2008-01-23T04:56:22",
        "2016-12-31T23:59:60Z",
        "2024-02-29T00:00:00-23:59",
    ],
)
def test_datetime_is_validated_and_kept_as_sent(value: str) -> None:
    """An xsd:dateTime / RFC 3339 string is kept exactly as sent (RFC 7643 §2.3.5)."""
    assert read_value(_typed("dateTime"), value) == value


@pytest.mark.parametrize(
    "value",
    [
        "2008-01-23",
        "2008-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2008-01-23T25:00:00Z",
        "yesterday",
        "2008-01-23T04:56:22+24:00",
        "2008-01-23 04:56:22Z",
        1700000000,
    ],
)
def test_malformed_datetime_is_refused(value: object) -> None:
    """A string that is no valid date and time, or no string, is invalidValue."""
    with pytest.raises(InvalidValue):
        read_value(_typed("dateTime"), value)


def test_binary_must_be_base64() -> None:
    """A binary value is kept as sent when it is base64, refused otherwise (RFC 7643 §2.3.6)."""
    assert read_resource(USER, user(x509Certificates=[{"value": "TUlJ"}])).doc["x509Certificates"] == [
        {"value": "TUlJ"}
    ]
    with pytest.raises(InvalidValue, match="base64"):
        read_resource(USER, user(x509Certificates=[{"value": "not base64!"}]))


# -- multi-valued --------------------------------------------------------------------------


def test_single_value_for_multi_valued_attribute_is_a_list_of_one() -> None:
    """A lone object for a multi-valued attribute is read as a list of one (liberal)."""
    doc = read_resource(USER, user(emails={"value": "a@example.com"})).doc
    assert doc["emails"] == [{"value": "a@example.com"}]


def test_at_most_one_primary() -> None:
    """Two values with primary true is invalidValue (RFC 7643 §2.4)."""
    emails = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]
    with pytest.raises(InvalidValue, match="more than one value with primary true"):
        read_resource(USER, user(emails=emails))


def test_primary_false_is_kept() -> None:
    """``primary: false`` is kept as sent."""
    emails = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": False}]
    assert read_resource(USER, user(emails=emails)).doc["emails"] == emails


# -- members -------------------------------------------------------------------------------


def test_group_members_are_canonicalised_and_kept_out_of_the_doc() -> None:
    """Members become ``{value, type?, display?}``; ``$ref`` is ignored; they are not in the doc."""
    body = {
        "displayName": "Admins",
        "members": [
            {"value": "u1", "$ref": None},
            {"VALUE": "g1", "type": "group", "display": "Ops", "$ref": "https://x/Groups/g1"},
        ],
    }
    resource = read_resource(GROUP, body)
    assert resource.doc == {"displayName": "Admins"}
    assert resource.members == [{"value": "u1"}, {"value": "g1", "type": "Group", "display": "Ops"}]


def test_members_absent_null_and_empty() -> None:
    """No ``members`` key gives None (not asserted); null or [] gives [] (no members)."""
    assert read_resource(GROUP, {"displayName": "g"}).members is None
    assert read_resource(GROUP, {"displayName": "g", "members": None}).members == []
    assert read_resource(GROUP, {"displayName": "g", "members": []}).members == []


def test_duplicate_members_are_merged() -> None:
    """A member id listed twice is one member."""
    assert read_members([{"value": "u1"}, {"value": "u1", "display": "B"}]) == [{"value": "u1"}]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([{"display": "B"}], r"members\[0\].value is required"),
        ([{"value": ""}], r"members\[0\].value is required"),
        ([{"value": "u1", "type": "Robot"}], r"members\[0\].type must be User or Group"),
        ([5], r"members\[0\] must be an object"),
        ([{"value": "u1", "name": "x"}], "'name' is not a sub-attribute"),
    ],
)
def test_malformed_member_is_refused(members: list[object], message: str) -> None:
    """A member without an id, with an unknown type or sub-attribute, is invalidValue."""
    with pytest.raises(InvalidValue, match=message):
        read_resource(GROUP, {"displayName": "g", "members": members})


def test_user_has_no_members() -> None:
    """``members`` is no User attribute."""
    with pytest.raises(InvalidValue, match="'members' is not an attribute of User"):
        read_resource(USER, user(members=[]))


# -- read_value --------------------------------------------------------------------------


def test_read_value_of_a_sub_attribute_path() -> None:
    """``read_value`` reads for the innermost attribute a path names."""
    assert read_value(resolve(USER, "name.givenName"), "Barbara") == "Barbara"
    with pytest.raises(InvalidValue, match="name.givenName must be a string"):
        read_value(resolve(USER, "name.givenName"), 1)


def test_read_value_of_one_element() -> None:
    """``element=True`` reads one element of a multi-valued attribute, not a list."""
    emails = resolve(USER, "emails")
    assert read_value(emails, {"value": "a@x"}, element=True) == {"value": "a@x"}
    assert read_value(emails, {"value": "a@x"}) == [{"value": "a@x"}]


def test_read_value_null_is_none() -> None:
    """Null, an empty list and an empty object read as None: unassigned."""
    assert read_value(resolve(USER, "nickName"), None) is None
    assert read_value(resolve(USER, "emails"), []) is None
    assert read_value(resolve(USER, "name"), {"givenName": None}) is None


# -- the dialect hook -----------------------------------------------------------------------


def test_value_rules_run_in_order_before_type_checks() -> None:
    """A dialect's value rules rewrite values, in order, before the type is checked."""

    def read_yes(attribute: Attribute, value: object) -> object:
        return "true" if attribute.type == "boolean" and value == "yes" else value

    dialect = Dialect("test", value_rules=(ValueRule(read_yes), *DEFAULT.value_rules))
    assert read_resource(USER, user(active="yes"), dialect=dialect).doc["active"] is True


def test_object_rules_rewrite_resource_level_objects() -> None:
    """A dialect's object rules rewrite the body before its keys are read."""

    def expand_dots(resource_type: ResourceType, obj: dict[str, object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in obj.items():
            head, dot, tail = key.partition(".")
            if dot and not key.lower().startswith("urn:"):
                inner = out.setdefault(head, {})
                assert isinstance(inner, dict)
                inner[tail] = value
            else:
                out[key] = value
        return out

    dialect = Dialect("test", object_rules=(expand_dots,))
    doc = read_resource(USER, user(**{"name.givenName": "B"}), dialect=dialect).doc
    assert doc["name"] == {"givenName": "B"}


def test_extension_required_attribute_counts_only_when_present() -> None:
    """A required extension attribute is required only when the extension is present."""
    badge = Attribute("badge", required=True)
    extension = Schema(
        "urn:ietf:params:scim:schemas:extension:test:2.0:User", "T", "T", (badge, Attribute("level"))
    )
    rtype = ResourceType("User", "/Users", "U", USER_SCHEMA, (extension,))
    assert read_resource(rtype, user()).doc == {"userName": "bjensen"}
    with pytest.raises(InvalidValue, match="badge is required"):
        read_resource(rtype, user(**{extension.id: {"badge": None, "level": "3"}}))


def test_sub_attribute_of_multi_valued_attribute_as_a_key_is_refused() -> None:
    """``urn:…:core:2.0:User:emails.value`` has no single place to go: invalidValue."""
    with pytest.raises(InvalidValue, match="sub-attribute of a multi-valued attribute"):
        read_resource(USER, user(**{f"{CORE_USER}:emails.value": "a@x"}))


def test_assignments_keep_the_value_as_sent() -> None:
    """An assignment carries the canonical value and the value as sent (nulls included)."""
    (name,) = read_assignments(USER, {"NAME": {"givenName": "B", "familyName": None}})
    assert (str(name.ref), name.value, name.sent) == (
        "name",
        {"givenName": "B"},
        {"givenName": "B", "familyName": None},
    )


def test_null_extension_object_unassigns_its_attributes() -> None:
    """A null under an extension URN assigns null to each of its writable attributes."""
    assigned = read_assignments(USER, {ENTERPRISE: None})
    assert {str(a.ref) for a in assigned} == {
        f"{ENTERPRISE}:{n}"
        for n in ("employeeNumber", "costCenter", "organization", "division", "department", "manager")
    }
    assert all(a.value is None for a in assigned)
