"""``Query.is_lookup``: which searches match one resource at most, and so need no count (ADR 0057)."""

from __future__ import annotations

import pytest

from scimhub.query.filter.parser import parse_filter
from scimhub.query.pages import Query, Seek
from scimhub.query.schema import GROUP, USER


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "bjensen"',
        'id eq "2819c223-7f76-453a-919d-413861904646"',
        'userName eq "bjensen" and active eq true',
        'active eq true and (title pr and userName eq "bjensen")',
    ],
)
def test_eq_on_a_unique_attribute_is_a_lookup(text: str) -> None:
    assert Query(parse_filter(USER, text)).is_lookup


@pytest.mark.parametrize(
    "text",
    [
        "userName eq null",  # not (userName pr)
        'userName ne "bjensen"',
        'userName sw "bj"',
        'userName eq "a" or userName eq "b"',
        'not (userName eq "bjensen")',
        'externalId eq "x"',
        'emails.value eq "b@example.com"',
        'emails[value eq "b@example.com"]',
        'title eq "x"',
    ],
)
def test_anything_else_is_not(text: str) -> None:
    assert not Query(parse_filter(USER, text)).is_lookup


def test_a_groups_display_name_is_unique() -> None:
    assert Query(parse_filter(GROUP, 'displayName eq "Readers"')).is_lookup
    assert not Query(parse_filter(GROUP, 'members.value eq "x"')).is_lookup


def test_only_the_first_page_with_room_is_a_lookup() -> None:
    """Past the first result, a page of none, or a keyset page: counted as any search is."""
    by_name = parse_filter(USER, 'userName eq "bjensen"')
    assert Query(by_name, limit=1).is_lookup
    assert not Query(by_name, offset=1).is_lookup
    assert not Query(by_name, limit=0).is_lookup
    assert not Query(by_name, seek=Seek()).is_lookup
    assert not Query().is_lookup
