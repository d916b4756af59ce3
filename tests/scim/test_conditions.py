"""If-Match and If-None-Match read against our ETags (RFC 7644 §3.14, RFC 9110 §13.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimhub.domain.versions import etag
from scimhub.errors import InvalidValue
from scimhub.scim.conditions import none_match, read_versions, write_versions


def test_our_etag_reads_back_as_its_version() -> None:
    """An ETag we made, weak or strong, names its version."""
    assert read_versions(etag(7)) == {7}
    assert read_versions('"7"') == {7}


def test_a_list_of_tags_accepts_each_of_ours() -> None:
    """A comma-separated list accepts every version it names and skips foreign tags."""
    assert read_versions('W/"1", "xyzzy",W/"3" , W/"abc"') == {1, 3}


def test_star_and_no_header_accept_any_version() -> None:
    """``*`` (or ``*`` twice: one header sent on two lines) and a missing header accept any version."""
    assert read_versions(None) is None
    assert read_versions(" * ") is None
    assert read_versions("*, *") is None
    assert read_versions("*,") is None  # empty list elements are ignored (RFC 9110 §5.6.1)
    assert read_versions(" , *") is None


@pytest.mark.parametrize("header", ['*, W/"3"', 'W/"3", *', 'W/"3",*'])
def test_star_in_a_list_of_tags_is_refused(header: str) -> None:
    """``*`` among tags is outside the grammar and reads two ways: a 400, not a guess."""
    with pytest.raises(InvalidValue, match='If-None-Match is "\\*" alone or a list of entity tags'):
        write_versions(None, header)
    with pytest.raises(InvalidValue, match="If-Match is"):
        read_versions(header)


@pytest.mark.parametrize(
    "header",
    [
        'W/"' + "9" * 5000 + '"',  # a 5,000-digit version: int() of it is slow, and never ours
        'W/"²"',  # str.isdigit() is true, int() raises
        'W/"٣"',  # Arabic-Indic three: isdigit() true, int() reads 3
        'W/"１"',  # fullwidth one
        'W/"9223372036854775808000"',  # beyond 64 bits
        'W/"1,2"',  # a comma inside a tag (RFC 9110 allows it): not ours
        'W/"-1"',
        "W/1",
        "",
        " " * 20000 + "x",  # white space before nothing: once quadratic in the old regex
    ],
)
def test_a_tag_we_cannot_have_made_matches_nothing(header: str) -> None:
    """Only ASCII digits, at most 18, are a version: anything else matches nothing and never raises."""
    assert read_versions(header) == frozenset()
    assert none_match(header, 3) is False


def test_if_none_match_matches_the_version_named() -> None:
    """If-None-Match matches the named version, ``*`` any version, and nothing else."""
    assert none_match(etag(4), 4) is True
    assert none_match(etag(4), 5) is False
    assert none_match("*", 5) is True
    assert none_match(None, 5) is False


@pytest.mark.parametrize(
    ("if_match", "if_none_match", "accepted", "refused"),
    [
        (None, None, [1, 7], []),
        (etag(3), None, [3], [2, 4]),
        (None, "*", [], [0, 1, 7]),  # any stored version: only a missing resource would pass
        (None, etag(3), [2, 4], [3]),
        (None, 'W/"3", "5"', [4], [3, 5]),
        (None, 'W/"²"', [1, 3], []),  # no tag of ours: refuses nothing
        ('W/"3", W/"4"', etag(4), [3], [4]),
        (etag(3), "*", [], [3]),
        ("*", etag(3), [2], [3]),
    ],
)
def test_a_write_takes_the_versions_both_headers_allow(
    if_match: str | None, if_none_match: str | None, accepted: list[int], refused: list[int]
) -> None:
    """A write's version must be one If-Match names (any, if absent or ``*``) and none If-None-Match does."""
    versions = write_versions(if_match, if_none_match)
    if versions is None:
        assert if_match is None and if_none_match is None
        return
    assert all(v in versions for v in accepted)
    assert not any(v in versions for v in refused)


@given(st.text(max_size=300))
def test_any_header_reads_to_versions_of_ours_or_none(header: str) -> None:
    """Whatever the header, reading it returns None or a set of 64-bit versions, and never raises."""
    versions = read_versions(header)
    assert versions is None or all(0 <= v < 2**63 for v in versions)
    none_match(header, 1)


@given(st.lists(st.integers(min_value=0, max_value=10**18 - 1), min_size=1, max_size=5), st.booleans())
def test_every_version_listed_is_read(versions: list[int], weak: bool) -> None:
    """A list of our ETags, weak or strong, reads back as exactly its versions."""
    header = ", ".join(etag(v) if weak else f'"{v}"' for v in versions)
    assert read_versions(header) == set(versions)
