"""The SCIM filter parser, PATCH path parser and evaluator (RFC 7644 §3.4.2.2, §3.5.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimhub.errors import InvalidFilter, InvalidPath
from scimhub.query.filter.evaluation import matches, matches_resource
from scimhub.query.filter.parser import parse_filter, parse_patch_path, parse_value_filter
from scimhub.query.filter.tree import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    And,
    Compare,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
)
from scimhub.query.paths import resolve
from scimhub.query.schema import (
    ENTERPRISE_USER,
    ENTERPRISE_USER_SCHEMA,
    GROUP,
    USER,
    USER_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)

EXT = ENTERPRISE_USER
TEST_EXT = "urn:ietf:params:scim:schemas:extension:test:2.0:User"
TEST_USER = ResourceType(
    "User",
    "/Users",
    "A User with attributes of every type, to test what the standard schemas lack.",
    USER_SCHEMA,
    (
        ENTERPRISE_USER_SCHEMA,
        Schema(
            TEST_EXT,
            "Test",
            "Test",
            (
                Attribute("score", "integer"),
                Attribute("ratio", "decimal"),
                Attribute("birthday", "dateTime"),
                Attribute("tags", "string", multi_valued=True),
                Attribute("code", "string", case_exact=True),
            ),
        ),
    ),
)


def show(node: Filter | PatchPath | None) -> str:
    """Render a tree compactly, fully parenthesised, literals as Python reprs."""
    if isinstance(node, Compare):
        return f"{node.path} {node.op} {node.value!r}"
    if isinstance(node, Present):
        return f"{node.path} pr"
    if isinstance(node, And):
        return f"({show(node.left)} and {show(node.right)})"
    if isinstance(node, Or):
        return f"({show(node.left)} or {show(node.right)})"
    if isinstance(node, Not):
        return f"not {show(node.inner)}"
    if isinstance(node, ValuePath):
        return f"{node.path}[{show(node.inner)}]"
    if isinstance(node, PatchPath):
        sub = node.sub.name if node.sub else None
        return f"{node.attribute} | {show(node.value_filter)} | {sub}"
    return repr(node)


def parsed(text: str, resource_type: ResourceType = USER) -> str:
    return show(parse_filter(resource_type, text))


# -- grammar ------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator_parses(op: str) -> None:
    """Each of the nine comparison operators compares an attribute with a value."""
    assert parsed(f'title {op} "x"') == f"title {op} 'x'"


def test_present_operator() -> None:
    """``pr`` takes no value."""
    assert parsed("title pr") == "title pr"


def test_operators_and_keywords_ignore_case() -> None:
    """Operators, and/or/not, pr and true/false/null are case-insensitive (§3.4.2.2)."""
    assert parsed('title EQ "x" AND NOT (nickName PR) Or active Eq TRUE') == (
        "((title eq 'x' and not nickName pr) or active eq True)"
    )
    assert parsed("title Eq NULL") == "title eq None"


def test_attribute_names_ignore_case_and_come_out_canonical() -> None:
    """``Username`` and ``NAME.FAMILYNAME`` name userName and name.familyName."""
    assert parsed('Username eq "john"') == "userName eq 'john'"
    assert parsed('NAME.FAMILYNAME eq "x"') == "name.familyName eq 'x'"


def test_and_binds_tighter_than_or() -> None:
    """``a or b and c`` is ``a or (b and c)``."""
    assert parsed("title pr or nickName pr and userType pr") == "(title pr or (nickName pr and userType pr))"


def test_not_binds_tighter_than_and() -> None:
    """``not (a) and b`` is ``(not a) and b``."""
    assert parsed("not (title pr) and nickName pr") == "(not title pr and nickName pr)"


def test_parentheses_group() -> None:
    """Parentheses override precedence."""
    assert (
        parsed("(title pr or nickName pr) and userType pr") == "((title pr or nickName pr) and userType pr)"
    )


def test_chains_associate_left() -> None:
    """``a or b or c`` is ``(a or b) or c``."""
    assert parsed("title pr or nickName pr or userType pr") == "((title pr or nickName pr) or userType pr)"


def test_value_path_names_sub_attributes_relative_to_the_attribute() -> None:
    """``emails[type eq "work" and value co "@x"]`` filters elements of emails."""
    assert parsed('emails[type eq "work" and value co "@x"]') == (
        "emails[(emails.type eq 'work' and emails.value co '@x')]"
    )


def test_value_path_followed_by_sub_attribute_holds_for_one_element() -> None:
    """Entra's ``emails[type eq "work"].value eq "x"`` is one value path with both conditions."""
    assert (
        parsed('emails[type eq "work"].value eq "x"')
        == "emails[(emails.type eq 'work' and emails.value eq 'x')]"
    )
    assert parsed('emails[type eq "work"].value pr') == "emails[(emails.type eq 'work' and emails.value pr)]"


def test_value_paths_combine_with_logic() -> None:
    """Value paths are operands of and/or like any comparison (§3.4.2.2 example)."""
    assert parsed('emails[type eq "work"] or ims[type eq "xmpp"]') == (
        "(emails[emails.type eq 'work'] or ims[ims.type eq 'xmpp'])"
    )


def test_urn_qualified_attributes() -> None:
    """A schema URN prefix qualifies an attribute; the dot in ``2.0`` separates nothing."""
    assert parsed(f'{EXT}:employeeNumber eq "701984"') == f"{EXT}:employeeNumber eq '701984'"
    assert parsed(f'{EXT}:manager.value eq "x"') == f"{EXT}:manager.value eq 'x'"
    assert (
        parsed('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "x"') == "name.givenName eq 'x'"
    )
    assert parsed(f"{EXT.upper()}:EMPLOYEENUMBER pr") == f"{EXT}:employeeNumber pr"


def test_extension_attribute_without_urn() -> None:
    """Tolerance (Entra): ``manager eq …`` names the enterprise manager without its URN."""
    assert parsed("manager eq 2819c223-7f76") == f"{EXT}:manager.value eq '2819c223-7f76'"
    assert parsed('department eq "x"') == f"{EXT}:department eq 'x'"


def test_complex_attribute_compares_its_value() -> None:
    """``emails co "example.com"`` (§3.4.2.2 example) compares emails.value."""
    assert parsed('emails co "example.com"') == "emails.value co 'example.com'"


def test_meta_and_id() -> None:
    """``id`` and ``meta.*`` are attributes of every resource type."""
    assert parsed('id eq "1"', GROUP) == "id eq '1'"
    assert parsed('meta.lastModified gt "2011-05-13T04:42:34Z"') == (
        "meta.lastModified gt datetime.datetime(2011, 5, 13, 4, 42, 34, tzinfo=datetime.timezone.utc)"
    )


def test_whitespace_is_any_run_of_blanks() -> None:
    """Tabs, newlines and repeated spaces separate tokens like one space."""
    assert parsed('  title\teq\n"x"   and  nickName pr ') == "(title eq 'x' and nickName pr)"


# -- literals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"a\"b"', 'a"b'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\u00e9t\u00E9"', "été"),
        (r'"\ud83d\ude00"', "😀"),
        (r'"tab\there"', "tab\there"),
        (r'"a/b\/c"', "a/b/c"),
        ('"spaces and (parens) [brackets]"', "spaces and (parens) [brackets]"),
        ('""', ""),
    ],
)
def test_strings_are_json_strings(literal: str, value: str) -> None:
    """String literals are JSON strings, escapes included (RFC 8259 §7)."""
    assert parse_filter(USER, f"title eq {literal}") == Compare(resolve(USER, "title"), "eq", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("42", 42), ("-7", -7), ("0", 0), ("4.0", 4), ("1e2", 100)],
)
def test_integers(literal: str, value: int) -> None:
    """An integer attribute takes JSON numbers with an integral value."""
    node = parse_filter(TEST_USER, f"score gt {literal}")
    assert isinstance(node, Compare) and node.value == value and type(node.value) is int


@pytest.mark.parametrize(
    ("literal", "value"), [("1.5", 1.5), ("-0.25", -0.25), ("2", 2.0), ("1.5E-3", 0.0015)]
)
def test_decimals(literal: str, value: float) -> None:
    """A decimal attribute takes any JSON number, as a float."""
    node = parse_filter(TEST_USER, f"ratio le {literal}")
    assert isinstance(node, Compare) and node.value == value and type(node.value) is float


def test_booleans_and_null() -> None:
    """true, false and null are keywords in any case."""
    assert parsed("active eq true") == "active eq True"
    assert parsed("active eq False") == "active eq False"
    assert parsed("title ne NULL") == "title ne None"


@pytest.mark.parametrize("literal", ['"True"', '"false"', '"TRUE"', "True"])
def test_boolean_strings_compare_as_booleans(literal: str) -> None:
    """Tolerance (Entra): ``roles[primary eq "True"]`` compares primary with the boolean true."""
    node = parse_filter(USER, f"roles[primary eq {literal}]")
    assert isinstance(node, ValuePath) and isinstance(node.inner, Compare)
    assert node.inner.value is (literal.strip('"').lower() == "true")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("externalId eq jyoung", "jyoung"),
        ("name.FamilyName eq Employee", "Employee"),
        ("userName sw O", "O"),
        ("emails.Value co example.com", "example.com"),
        ("id eq 54D382A4-2050-4C03-94D1-E769F1D15682", "54D382A4-2050-4C03-94D1-E769F1D15682"),
        ("externalId eq 0042", "0042"),
        ("title eq true", "true"),
        ("userName eq user@contoso.com", "user@contoso.com"),
    ],
)
def test_bare_words_are_strings(text: str, value: str) -> None:
    """Tolerance (Entra): an unquoted literal compared with a string attribute is the text as written."""
    node = parse_filter(USER, text)
    assert isinstance(node, Compare) and node.value == value


def test_entra_validator_filter_with_bare_words() -> None:
    """The filter of Microsoft's reference Postman suite parses, bare words and all."""
    assert parsed(
        "name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)"
    ) == (
        "(name.familyName eq 'Employee' and (emails.value co 'example.com' or emails.value co 'example.org'))"
    )


@pytest.mark.parametrize(
    ("literal", "instant"),
    [
        ('"2011-05-13T04:42:34Z"', datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)),
        ("2015-10-10T14:38:21.8617979-07:00", datetime(2015, 10, 10, 21, 38, 21, 861797, tzinfo=UTC)),
        ('"2011-05-13T04:42:34"', datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)),
        ('"2011-05-13t06:42:34.5+02:00"', datetime(2011, 5, 13, 4, 42, 34, 500000, tzinfo=UTC)),
    ],
)
def test_datetimes_are_instants_in_utc(literal: str, instant: datetime) -> None:
    """A dateTime literal becomes an aware UTC datetime; beyond microseconds is dropped."""
    node = parse_filter(USER, f"meta.created gt {literal}")
    assert isinstance(node, Compare) and isinstance(node.value, datetime)
    assert node.value == instant and node.value.tzinfo is UTC


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "the filter is empty"),
        ("  ", "the filter is empty"),
        ("nope eq 1", "'nope' is not an attribute of User at position 1 of the filter"),
        ("name.nope pr", "'name.nope' is not an attribute of User at position 1 of the filter"),
        ('name. eq "x"', "'name.' is not an attribute path at position 1 of the filter"),
        ('userName. eq "x"', "'userName.' is not an attribute path at position 1 of the filter"),
        (
            "urn:example:x:nope pr",
            "'urn:example:x:nope' names a schema that User does not have at position 1 of the filter",
        ),
        ('title eq "x" junk', "unexpected 'junk' at position 14 of the filter"),
        ('title eq "x")', "unexpected ')' at position 13 of the filter"),
        ("(title pr", "expected ')' closing the '(' at position 1, found nothing at the end of the filter"),
        ("((title pr)", "expected ')' closing the '(' at position 1, found nothing at the end of the filter"),
        (
            'emails[type eq "w"',
            "expected ']' closing the '[' at position 7, found nothing at the end of the filter",
        ),
        (
            'emails[type eq "w")',
            "expected ']' closing the '[' at position 7, found ')' at position 19 of the filter",
        ),
        ('emails[type eq "w"]]', "unexpected ']' at position 20 of the filter"),
        ("title", "expected an operator after 'title', found nothing at the end of the filter"),
        ('title is "x"', "expected an operator after 'title', found 'is' at position 7 of the filter"),
        ("title eq", "expected a value to compare 'title' with, found nothing at the end of the filter"),
        ("title eq )", "expected a value to compare 'title' with, found ')' at position 10 of the filter"),
        ('title eq "x', "unterminated string starting at position 10 of the filter"),
        (r'title eq "\x"', "malformed string literal at position 10 of the filter"),
        ('title eq "a\nb"', "malformed string literal at position 10 of the filter"),
        ("not title pr", "expected '(' after 'not' at position 5 of the filter"),
        ("title pr and", "expected an attribute path, found nothing at the end of the filter"),
        ("and title pr", "'and' is not an attribute of User at position 1 of the filter"),
        ("()", "expected an attribute path, found ')' at position 2 of the filter"),
        ('"x" eq title', 'expected an attribute path, found "x" at position 1 of the filter'),
        ("active gt true", "'gt' cannot compare the boolean attribute 'active' at position 8 of the filter"),
        ("active le false", "'le' cannot compare the boolean attribute 'active' at position 8 of the filter"),
        ("active co true", "'co' cannot compare the boolean attribute 'active' at position 8 of the filter"),
        (
            'active eq "yes"',
            "'active' is boolean: expected true or false, found \"yes\" at position 11 of the filter",
        ),
        (
            "active eq 1",
            "'active' is boolean: expected true or false, found '1' at position 11 of the filter",
        ),
        (
            'x509Certificates.value gt "a"',
            "'gt' cannot compare the binary attribute 'x509Certificates.value' at position 24 of the filter",
        ),
        (
            'meta.created sw "2011"',
            "'sw' cannot compare the dateTime attribute 'meta.created' at position 14 of the filter",
        ),
        ('name eq "x"', "'name' is complex: compare one of its sub-attributes at position 6 of the filter"),
        (
            'addresses eq "x"',
            "'addresses' is complex: compare one of its sub-attributes at position 11 of the filter",
        ),
        ('meta gt "x"', "'meta' is complex: compare one of its sub-attributes at position 6 of the filter"),
        (
            'meta.created gt "yesterday"',
            "'meta.created' is a dateTime: \"yesterday\" is not an RFC 3339 date and time"
            " at position 17 of the filter",
        ),
        (
            'meta.created gt "2011-05-13"',
            "'meta.created' is a dateTime: \"2011-05-13\" is not an RFC 3339 date and time"
            " at position 17 of the filter",
        ),
        (
            'meta.created gt "2011-13-13T00:00:00Z"',
            "'meta.created' is a dateTime: \"2011-13-13T00:00:00Z\" is not an RFC 3339 date and time "
            "at position 17 of the filter",
        ),
        (
            "meta.created gt 5",
            "'meta.created' is a dateTime: '5' is not an RFC 3339 date and time at position 17 of the filter",
        ),
        ("title gt null", "'gt' cannot compare with null at position 10 of the filter"),
        ("title co null", "'co' cannot compare with null at position 10 of the filter"),
        (
            'emails[type[value eq "x"]]',
            "a value path cannot be nested in another at position 12 of the filter",
        ),
        ('emails[type eq "w"][type pr]', "unexpected '[' at position 20 of the filter"),
        ('emails[nope eq "x"]', "'nope' is not a sub-attribute of 'emails' at position 8 of the filter"),
        (
            'emails[emails.type eq "x"]',
            "'emails.type' is not a sub-attribute of 'emails' at position 8 of the filter",
        ),
        (
            'emails[type eq "w"].nope eq "x"',
            "'emails' has no sub-attribute 'nope' at position 20 of the filter",
        ),
        (
            'emails[type eq "w"].value',
            "expected an operator after 'emails', found nothing at the end of the filter",
        ),
        (
            'userName[value eq "x"]',
            "'userName' is neither multi-valued nor complex, so it takes no filter"
            " at position 9 of the filter",
        ),
        (
            'emails.value[type eq "x"]',
            "'emails.value' is neither multi-valued nor complex, so it takes no filter"
            " at position 13 of the filter",
        ),
        ("emails[]", "expected an attribute path, found ']' at position 8 of the filter"),
        ('password eq "secret"', "'password' cannot be filtered at position 1 of the filter"),
        ("password pr", "'password' cannot be filtered at position 1 of the filter"),
        ('members.value eq "x"', "'members.value' is not an attribute of User at position 1 of the filter"),
    ],
)
def test_invalid_filters_name_the_fault_and_its_position(text: str, detail: str) -> None:
    """A filter that cannot be parsed or typed raises InvalidFilter saying what and where."""
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(USER, text)
    assert raised.value.detail == detail


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (
            "score gt 1.5",
            f"'{TEST_EXT}:score' is integer: expected a number, found '1.5' at position 10 of the filter",
        ),
        (
            'score gt "1"',
            f"'{TEST_EXT}:score' is integer: expected a number, found \"1\" at position 10 of the filter",
        ),
        (
            "ratio gt abc",
            f"'{TEST_EXT}:ratio' is decimal: expected a number, found 'abc' at position 10 of the filter",
        ),
        (
            'score co "1"',
            f"'co' cannot compare the integer attribute '{TEST_EXT}:score' at position 7 of the filter",
        ),
    ],
)
def test_numbers_must_be_numbers(text: str, detail: str) -> None:
    """Integer and decimal attributes take JSON numbers only."""
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(TEST_USER, text)
    assert raised.value.detail == detail


def test_filter_length_is_bounded() -> None:
    """A filter longer than MAX_LENGTH characters is refused before parsing."""
    text = 'title eq "' + "x" * (MAX_LENGTH - 11) + '"'
    assert len(text) == MAX_LENGTH
    parse_filter(USER, text)
    with pytest.raises(InvalidFilter, match=f"longer than {MAX_LENGTH} characters"):
        parse_filter(USER, text + " ")


def test_nesting_depth_is_bounded() -> None:
    """MAX_DEPTH levels of parentheses parse; one more is InvalidFilter, not RecursionError."""
    parse_filter(USER, "(" * MAX_DEPTH + "title pr" + ")" * MAX_DEPTH)
    with pytest.raises(InvalidFilter, match="nested deeper than 32 levels at position 33 of the filter"):
        parse_filter(USER, "(" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1))


def test_deep_not_nesting_is_bounded() -> None:
    """``not (not (…))`` counts against the same depth."""
    with pytest.raises(InvalidFilter, match="nested deeper than 32 levels"):
        parse_filter(USER, "not (" * 40 + "title pr" + ")" * 40)


def test_unclosed_parentheses_at_the_limit_never_recurse_forever() -> None:
    """A filter made only of ``(`` stops at the depth limit."""
    with pytest.raises(InvalidFilter, match="nested deeper"):
        parse_filter(USER, "(" * MAX_LENGTH)


def test_long_chains_evaluate_without_recursion() -> None:
    """MAX_TERMS ``or`` terms (the most a filter may hold) parse and evaluate."""
    text = " or ".join(f'id eq "{i}"' for i in range(MAX_TERMS))
    node = parse_filter(USER, text)
    assert matches_resource(node, {"id": str(MAX_TERMS - 1)})
    assert not matches_resource(node, {"id": str(MAX_TERMS)})


@pytest.mark.parametrize(
    "text",
    [
        " or ".join(["title pr"] * (MAX_TERMS + 1)),
        " and ".join(f'emails[type eq "w{i}"]' for i in range(MAX_TERMS + 1)),
        "not (" + " or ".join(["title pr"] * MAX_TERMS) + ") and userName pr",
        'emails[type eq "work" or ' + " or ".join(f'value eq "{i}"' for i in range(MAX_TERMS)) + "]",
    ],
    ids=["or-chain", "value-paths", "not", "inside-brackets"],
)
def test_filter_terms_are_bounded(text: str) -> None:
    """A filter of more than MAX_TERMS comparisons is invalidFilter, wherever they stand (ADR 0025)."""
    assert len(text) <= MAX_LENGTH
    with pytest.raises(InvalidFilter, match=f"more than {MAX_TERMS} comparisons in one filter"):
        parse_filter(USER, text)


def test_patch_path_terms_are_bounded() -> None:
    """A PATCH path's filter counts against the same bound, as invalidPath."""
    terms = " or ".join(f'value eq "{i}"' for i in range(MAX_TERMS))
    assert parse_patch_path(USER, f"emails[{terms}].type").value_filter is not None
    with pytest.raises(InvalidPath, match=f"more than {MAX_TERMS} comparisons in one path"):
        parse_patch_path(USER, f'emails[{terms} or type eq "x"].type')


# -- PATCH paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("members", "members | None | None"),
        ('members[value eq "x"]', "members | members.value eq 'x' | None"),
        ("displayName", "displayName | None | None"),
        ("externalId", "externalId | None | None"),
    ],
)
def test_group_patch_paths(text: str, expected: str) -> None:
    """Group PATCH paths resolve against the Group schema."""
    assert show(parse_patch_path(GROUP, text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name.givenName", "name | None | givenName"),
        ("userName", "userName | None | None"),
        ('emails[type eq "work"].value', "emails | emails.type eq 'work' | value"),
        ('emails[type eq "work"].Value', "emails | emails.type eq 'work' | value"),
        ('emails[type eq "work"]', "emails | emails.type eq 'work' | None"),
        ('roles[primary eq "True"].value', "roles | roles.primary eq True | value"),
        ('addresses[type eq "work"].streetAddress', "addresses | addresses.type eq 'work' | streetAddress"),
        (f"{EXT}:manager", f"{EXT}:manager | None | None"),
        (f"{EXT}:manager.value", f"{EXT}:manager | None | value"),
        (f'{EXT}:manager[value eq "x"]', f"{EXT}:manager | {EXT}:manager.value eq 'x' | None"),
        ('manager[value eq "x"]', f"{EXT}:manager | {EXT}:manager.value eq 'x' | None"),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value',
            "emails | emails.type eq 'work' | value",
        ),
        (
            'emails[type eq "work" and not (primary eq true)]',
            "emails | (emails.type eq 'work' and not emails.primary eq True) | None",
        ),
    ],
)
def test_user_patch_paths(text: str, expected: str) -> None:
    """PATCH paths (§3.5.2): attrPath, valuePath with subAttr, URN-qualified, Entra's manager filter."""
    assert show(parse_patch_path(USER, text)) == expected


def test_patch_path_target_is_the_innermost_attribute() -> None:
    """``PatchPath.target`` narrows the attribute to the sub-attribute."""
    assert str(parse_patch_path(USER, 'emails[type eq "work"].value').target) == "emails.value"
    assert str(parse_patch_path(USER, "name.givenName").target) == "name.givenName"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "the path is empty"),
        ("nope", "'nope' is not an attribute of User at position 1 of the path"),
        (
            'emails[type eq "work"',
            "expected ']' closing the '[' at position 7, found nothing at the end of the path",
        ),
        (
            'emails[type eqq "work"]',
            "expected an operator after 'type', found 'eqq' at position 13 of the path",
        ),
        ('emails[type eq "work"].nope', "'emails' has no sub-attribute 'nope' at position 23 of the path"),
        (
            'emails[type eq "work"].value.x',
            "'emails' has no sub-attribute 'value.x' at position 23 of the path",
        ),
        ('emails[type eq "work"] x', "unexpected 'x' at position 24 of the path"),
        (
            'userName[value eq "x"]',
            "'userName' is neither multi-valued nor complex, so it takes no filter at position 9 of the path",
        ),
        (
            'name.givenName[value eq "x"]',
            "'name.givenName' is neither multi-valued nor complex, so it takes no filter"
            " at position 15 of the path",
        ),
        ('emails[type[value eq "x"]]', "a value path cannot be nested in another at position 12 of the path"),
        ("emails eq", "unexpected 'eq' at position 8 of the path"),
        ("[x]", "expected an attribute path at position 1 of the path"),
    ],
)
def test_invalid_patch_paths_raise_invalid_path(text: str, detail: str) -> None:
    """A malformed PATCH path, filter included, raises InvalidPath (§3.12 ``invalidPath``)."""
    with pytest.raises(InvalidPath) as raised:
        parse_patch_path(USER, text)
    assert raised.value.detail == detail


def test_patch_path_may_name_the_password() -> None:
    """The password cannot be filtered on, but a PATCH may still replace it."""
    assert show(parse_patch_path(USER, "password")) == "password | None | None"


def test_value_filter_is_relative_to_its_attribute() -> None:
    """``parse_value_filter`` parses what goes between the brackets of a value path."""
    emails = resolve(USER, "emails")
    assert show(parse_value_filter(USER, emails, 'type eq "work" and value co "@x"')) == (
        "(emails.type eq 'work' and emails.value co '@x')"
    )
    with pytest.raises(InvalidFilter, match="neither multi-valued nor complex"):
        parse_value_filter(USER, resolve(USER, "userName"), 'value eq "x"')


# -- evaluation of one element ------------------------------------------------------


def _value_filter(attribute: str, text: str, resource_type: ResourceType = USER) -> Filter:
    return parse_value_filter(resource_type, resolve(resource_type, attribute), text)


def test_element_matches_its_value_filter() -> None:
    """``matches`` reads the filter's sub-attributes from the element itself."""
    work = {"type": "work", "value": "a@x.org"}
    assert matches(_value_filter("emails", 'type eq "work"'), work)
    assert not matches(_value_filter("emails", 'type eq "home"'), work)
    assert matches(_value_filter("emails", 'type eq "WORK" and value ew "X.ORG"'), work)


def test_element_folds_case_as_the_database_does() -> None:
    """Case folds a character at a time, as SQL's ``lower()``: the elements a search would find.

    Python's ``str.lower()`` writes a word's final Σ as ς and İ as i with a combining dot, so
    ``display eq "οδοσ"`` missed the ``ΟΔΟΣ`` that a search finds (session 40's adversarial run).
    """
    element = {"value": "a@x.org", "display": "ΟΔΟΣ İstanbul"}
    assert matches(_value_filter("emails", 'display eq "οδοσ istanbul"'), element)
    assert matches(_value_filter("emails", 'display eq "x" or display eq "οδοσ istanbul"'), element)
    assert matches(_value_filter("emails", 'display sw "οδοσ i"'), element)
    assert not matches(_value_filter("emails", 'display eq "οδος istanbul"'), element)


def test_element_primary_true_matches_string_true() -> None:
    """An element whose primary is still Entra's string "True" matches ``primary eq "True"``."""
    selection = _value_filter("roles", 'primary eq "True"')
    assert matches(selection, {"value": "r", "primary": True})
    assert matches(selection, {"value": "r", "primary": "True"})
    assert not matches(selection, {"value": "r", "primary": False})
    assert not matches(selection, {"value": "r"})


def test_element_missing_sub_attribute_matches_ne() -> None:
    """An element without ``type`` matches ``type ne "work"`` and not ``type eq "work"``."""
    assert matches(_value_filter("emails", 'type ne "work"'), {"value": "x"})
    assert not matches(_value_filter("emails", 'type eq "work"'), {"value": "x"})


def test_element_of_simple_values_is_named_value() -> None:
    """In ``tags[value eq "red"]`` the element is the string itself."""
    assert matches(_value_filter(f"{TEST_EXT}:tags", 'value eq "RED"', TEST_USER), "red")
    assert not matches(_value_filter(f"{TEST_EXT}:tags", 'value sw "b"', TEST_USER), "red")


def test_single_valued_complex_element() -> None:
    """``manager[value eq "x"]`` evaluates against the manager object."""
    selection = parse_patch_path(USER, 'manager[value eq "X"]').value_filter
    assert selection is not None
    assert matches(selection, {"value": "x"})
    assert not matches(selection, {"value": "y"})


def test_case_exact_sub_attribute_compares_exactly() -> None:
    """caseExact attributes (here a test ``code``) compare without folding case."""
    node = parse_filter(TEST_USER, 'code eq "AbC"')
    assert matches_resource(node, {TEST_EXT: {"code": "AbC"}})
    assert not matches_resource(node, {TEST_EXT: {"code": "abc"}})


# -- evaluation of a resource -------------------------------------------------------

BJENSEN: dict[str, Any] = {
    "id": "2819c223",
    "externalId": "BJ",
    "userName": "bjensen",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "title": "",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "roles": [],
    EXT: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    TEST_EXT: {"score": 7, "ratio": 0.5, "birthday": "1990-01-02T03:04:05+01:00", "tags": ["red", "Blue"]},
    "meta": {"created": "2011-05-13T04:42:34Z", "lastModified": "2011-05-13T04:42:34.5Z", "version": 'W/"3"'},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "BJensen"', True),
        ('externalId eq "bj"', False),
        ('externalId eq "BJ"', True),
        ('name.familyName co "ens"', True),
        ('name.familyName sw "J"', True),
        ('name.familyName ew "SEN"', True),
        ('userName gt "bjenseN"', False),
        ('userName ge "bjenseN"', True),
        ('userName lt "c"', True),
        ('userName le "a"', False),
        ("title pr", False),
        ("nickName pr", False),
        ("roles pr", False),
        ("name pr", True),
        ("emails pr", True),
        ('nickName ne "x"', True),
        ("nickName eq null", True),
        ("title eq null", True),
        ("userName ne null", True),
        ('emails.value eq "babs@jensen.org"', True),
        ('emails co "jensen.org"', True),
        ('emails.value ne "babs@jensen.org"', False),
        ('emails.value ne "nobody@x"', True),
        ('emails.type eq "home"', True),
        ('emails[type eq "work" and value eq "babs@jensen.org"]', False),
        ('emails[type eq "home" and value eq "babs@jensen.org"]', True),
        ('emails[type eq "work"].value eq "bjensen@example.com"', True),
        ('emails[type eq "home"].value eq "bjensen@example.com"', False),
        ("emails[primary eq true]", True),
        ('emails[not (type eq "work")]', True),
        ('emails[not (type eq "work" or type eq "home")]', False),
        ('not (emails[type eq "other"])', True),
        ("active eq true", True),
        ("active ne true", False),
        (f'{EXT}:employeeNumber eq "701984"', True),
        ('manager eq "26118915"', True),
        ('manager.value eq "2611"', False),
        ('meta.created eq "2011-05-13T06:42:34+02:00"', True),
        ('meta.created lt "2011-05-13T04:42:34.000001Z"', True),
        ('meta.lastModified gt "2011-05-13T04:42:34Z"', True),
        ('meta.version eq "W/\\"3\\""', True),
        ('id eq "2819C223"', False),
        ("score gt 6", True),
        ("score ge 7.0", True),
        ("score lt 7", False),
        ("ratio eq 0.5", True),
        ("ratio gt 1", False),
        ('birthday eq "1990-01-02T02:04:05Z"', True),
        ('birthday lt "1990-01-02T02:04:05Z"', False),
        ('tags eq "blue"', True),
        ('tags[value sw "r"]', True),
        ('tags ne "red"', False),
        ('userName eq "bjensen" and (title pr or active eq true)', True),
        ('userName eq "x" or not (name.givenName co "arb")', False),
    ],
)
def test_resource_evaluation(text: str, expected: bool) -> None:
    """RFC 7644 §3.4.2.2 semantics: case per caseExact, any-of for multi-valued, pr, instants, numbers."""
    assert matches_resource(parse_filter(TEST_USER, text), BJENSEN) is expected


def test_unparseable_stored_datetime_never_matches() -> None:
    """A stored dateTime that does not parse matches no comparison, so ``ne`` holds."""
    resource = {TEST_EXT: {"birthday": "someday"}}
    assert not matches_resource(parse_filter(TEST_USER, 'birthday eq "1990-01-02T02:04:05Z"'), resource)
    assert matches_resource(parse_filter(TEST_USER, 'birthday ne "1990-01-02T02:04:05Z"'), resource)


def test_values_of_the_wrong_type_never_match() -> None:
    """A number where a string belongs (or the reverse) compares unequal instead of failing."""
    assert not matches_resource(parse_filter(USER, 'title eq "1"'), {"title": 1})
    assert not matches_resource(parse_filter(TEST_USER, "score eq 1"), {TEST_EXT: {"score": "1"}})
    assert not matches_resource(parse_filter(TEST_USER, "score eq 1"), {TEST_EXT: {"score": True}})


def test_non_canonical_keys_are_found() -> None:
    """Keys are matched case-insensitively when the document is not canonical."""
    assert matches_resource(parse_filter(USER, 'name.givenName eq "b"'), {"NAME": {"givenname": "B"}})


_FRAGMENTS = st.sampled_from(
    [
        " ",
        "(",
        ")",
        "[",
        "]",
        '"',
        "\\",
        ".",
        ":",
        "not",
        "and",
        "or",
        "pr",
        "eq",
        "gt",
        "co",
        "null",
        "true",
        "emails",
        "type",
        "value",
        "userName",
        "name.givenName",
        "active",
        "meta.created",
        f"{EXT}:manager",
        '"x"',
        '"2011-05-13T04:42:34Z"',
        "1.5",
        "-",
        "\\u00",
    ]
)
_GARBAGE = st.lists(st.tuples(_FRAGMENTS, st.sampled_from(["", " ", " "])).map("".join), max_size=30).map(
    "".join
) | st.text(max_size=60)
"""Text that is mostly filter syntax, some of it valid: the parser's error paths, thoroughly."""


@settings(max_examples=300, deadline=None)
@given(_GARBAGE)
def test_any_text_parses_or_raises_invalid_filter(text: str) -> None:
    """Whatever the input, parse_filter returns a tree or raises InvalidFilter, nothing else."""
    try:
        node = parse_filter(USER, text)
    except InvalidFilter:
        return
    matches_resource(node, BJENSEN)


@settings(max_examples=200, deadline=None)
@given(_GARBAGE)
def test_any_text_parses_or_raises_invalid_path(text: str) -> None:
    """Whatever the input, parse_patch_path returns a path or raises InvalidPath, nothing else."""
    try:
        parse_patch_path(USER, text)
    except InvalidPath:
        return
