"""The service's text rules (ADR 0021): no NUL, bounded indexed strings, one spelling per name."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimhub.domain.text import (
    EMAIL,
    EXTERNAL_ID,
    NAME,
    TextRule,
    check_identifier,
    check_no_nul,
    fold,
    lower_each,
)
from scimhub.errors import InvalidFilter, InvalidValue


def test_a_nul_is_refused_with_its_position() -> None:
    """A NUL is refused wherever it is, with the position and the name of the place."""
    with pytest.raises(InvalidValue, match=r"title contains a NUL character \(U\+0000\) at position 3"):
        check_no_nul("abc\x00", "title")


def test_a_nul_is_refused_with_the_error_the_caller_names() -> None:
    """The caller chooses the error: a filter's NUL is invalidFilter."""
    with pytest.raises(InvalidFilter):
        check_no_nul('userName eq "\x00"', "the filter", InvalidFilter)


@given(st.text().filter(lambda t: "\x00" not in t))
def test_text_without_nul_passes_unchanged(text: str) -> None:
    """Any text without a NUL is returned as it is."""
    assert check_no_nul(text, "x") == text


def test_a_name_is_stored_in_nfc() -> None:
    """The NFD spelling of a name is read as its NFC spelling (RFC 8264 §7)."""
    nfd = unicodedata.normalize("NFD", "Zoë.Müller@contoso.com")
    assert NAME.read(nfd, "userName") == "Zoë.Müller@contoso.com"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("a\u200bb", "format character"),
        ("a\u200db", "format character"),
        ("a\u202eb", "format character"),
        ("a\ufeffb", "format character"),
        ("a\tb", "control character"),
        ("a\x7fb", "control character"),
        ("a\x85b", "control character"),
        ("a\u2029b", "paragraph separator"),
        ("a\U000f0000b", "private-use"),
        ("a\U000e0080b", "unassigned"),
    ],
)
def test_a_name_refuses_look_alike_characters(text: str, kind: str) -> None:
    """Controls, format characters, separators, private-use and unassigned code points are refused, named."""
    code = re.escape(f"U+{ord(text[1]):04X}")
    with pytest.raises(InvalidValue, match=f"userName contains .*{kind}.*{code}, at position 1"):
        NAME.read(text, "userName")


@pytest.mark.parametrize("text", [" a", "a ", "\u3000a", "a\u00a0"])
def test_a_name_refuses_outer_white_space(text: str) -> None:
    """A name may not start or end with white space of any kind."""
    with pytest.raises(InvalidValue, match="starts or ends with white space"):
        check_identifier(text, "displayName")


@pytest.mark.parametrize(
    "text",
    [
        "first_gmail.com#EXT#@tenant.onmicrosoft.com",
        "o'brien@contoso.com",
        "Zoë.Müller@contoso.com",
        "jdoe",
        "j.doe+okta@example.com",
        "山田太郎@example.jp",
        "Engineering Team (EMEA)",
        "Ｆｕｌｌｗｉｄｔｈ",  # kept as sent: no width mapping (ADR 0004)
    ],
)
def test_real_names_are_kept_as_sent(text: str) -> None:
    """Entra's UPNs, Okta's logins and ordinary group names pass unchanged."""
    assert NAME.read(text, "userName") == text


def test_the_limit_in_characters_names_itself() -> None:
    """A value beyond the character limit is refused naming its length and the limit."""
    with pytest.raises(InvalidValue, match="userName is 257 characters long; the limit is 256"):
        NAME.read("a" * 257, "userName")
    assert NAME.read("a" * 256, "userName") == "a" * 256


def test_the_limit_in_bytes_bites_only_beyond_the_basic_plane() -> None:
    """256 characters of the Basic Multilingual Plane fit 800 bytes; 201 emoji do not."""
    assert NAME.read("漢" * 256, "userName") == "漢" * 256
    with pytest.raises(InvalidValue, match="804 bytes long in UTF-8; the limit is 800 bytes"):
        NAME.read("😀" * 201, "userName")


@pytest.mark.parametrize("rule", [NAME, EXTERNAL_ID, EMAIL])
def test_every_value_a_rule_admits_fits_a_postgresql_index_entry(rule: TextRule) -> None:
    """The worst case of each rule, its URN (3 bytes per UTF-8 byte) included, is below 2,704 bytes."""
    worst = min(rule.max_chars * 4, rule.max_bytes or rule.max_chars * 4)
    if rule is NAME:
        worst = len("urn:li:corpGroup:") + 3 * worst
    assert worst + 64 < 2704


def test_the_rule_describes_its_limits() -> None:
    """The description /Schemas serves states the limits and the form."""
    assert NAME.describe().startswith("At most 256 characters and 800 bytes of UTF-8; stored and compared in")
    assert EXTERNAL_ID.describe() == "At most 512 characters."


def test_fold_makes_nfc_and_nfd_and_case_one_key() -> None:
    """The comparison key is one for every spelling and case of a name."""
    spellings = ["José", unicodedata.normalize("NFD", "José"), "JOSÉ", unicodedata.normalize("NFD", "JOSÉ")]
    assert len({fold(s) for s in spellings}) == 1


@given(st.text(max_size=40))
def test_a_name_read_is_nfc_and_reads_to_itself(text: str) -> None:
    """Whatever a name rule admits is in NFC, and reading it again changes nothing."""
    try:
        read = NAME.read(text, "userName")
    except InvalidValue:
        return
    assert unicodedata.is_normalized("NFC", read)
    assert NAME.read(read, "userName") == read
    assert fold(read) == fold(text)


_SIMPLE_LOWER = {"\u0130": "i"}
"""UnicodeData.txt's simple lower case of the one character whose full one (``str.lower``) is two."""


def _a_character_at_a_time(text: str) -> str:
    """The definition ``lower_each`` computes faster: each character's simple lower case, alone."""
    return "".join(_SIMPLE_LOWER.get(char) or char.lower() for char in text)


def test_lower_each_maps_every_code_point_alone() -> None:
    """Every code point (surrogates aside) lowers as it does alone: no SpecialCasing, no context."""
    for code in (*range(0xD800), *range(0xE000, 0x110000)):
        char = chr(code)
        assert lower_each(char) == _a_character_at_a_time(char), f"U+{code:04X}"


_CONTEXTS = "ΣσςİıIiAaΑα \u0301\u00ad'.ΟΔ"
"""Characters around which ``str.lower`` might look: sigmas, dotted and dotless i, cased letters,
case-ignorable marks (a combining accent, a soft hyphen, an apostrophe) and separators."""


@given(st.text(alphabet=st.one_of(st.sampled_from(_CONTEXTS), st.characters()), max_size=24))
def test_lower_each_ignores_context(text: str) -> None:
    """A word-final Σ is σ and İ is i wherever they stand, as PostgreSQL's lower() writes them."""
    assert lower_each(text) == _a_character_at_a_time(text)


def test_lower_each_of_known_text() -> None:
    assert lower_each("ΟΔΟΣ İstanbul") == "οδοσ istanbul"
    assert lower_each("JSmith") == "jsmith"
