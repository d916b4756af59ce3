"""A token's name and description have one limit, whoever issues it: the console, the JSON API, the CLI."""

from __future__ import annotations

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.directory.users import UserRef
from scimhub.domain.tokens import MAX_DESCRIPTION, MAX_NAME
from scimhub.errors import InvalidValue
from scimhub.wiring import Services
from tests.directory.conftest import add_user


def test_a_name_and_a_description_at_their_limits_are_kept_trimmed(hub: Services) -> None:
    """MAX_NAME and MAX_DESCRIPTION characters are kept, measured and stored without white space around.

    Whoever sent them: in session 40 the console trimmed first, the JSON API and the CLI did not.
    """
    add_user(hub, "entra")
    name, description = "n" * MAX_NAME, "d" * MAX_DESCRIPTION
    _, view = hub.tokens.issue(
        SYSTEM, UserRef.by_name("entra"), f"  {name}\t", description=f" {description} "
    )
    assert (view.record.name, view.record.description) == (name, description)


def test_a_blank_description_is_none(hub: Services) -> None:
    """A description of white space alone is kept as none, as an absent one."""
    add_user(hub, "entra")
    _, view = hub.tokens.issue(SYSTEM, UserRef.by_name("entra"), "ci", description="   ")
    assert view.record.description is None


@pytest.mark.parametrize(
    ("name", "description"), [("n" * (MAX_NAME + 1), None), ("ci", "d" * (MAX_DESCRIPTION + 1))]
)
def test_one_character_more_is_refused(hub: Services, name: str, description: str | None) -> None:
    """A name or description past its limit is invalidValue naming both limits; no token is made."""
    add_user(hub, "entra")
    limits = f"at most {MAX_NAME} characters, its description {MAX_DESCRIPTION}"
    with pytest.raises(InvalidValue, match=limits):
        hub.tokens.issue(SYSTEM, UserRef.by_name("entra"), name, description=description)
    assert hub.tokens.list(SYSTEM) == []
