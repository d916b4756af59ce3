"""The cost a stored password hash carries, and verification at the cost a hash was made with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scimhub.directory.passwords import DEFAULT_COST, Cost, check_password, hash_password, use_cost

LOWERED = Cost(time=1, memory_kib=1024, parallelism=1)  # what tests/conftest.py sets


@pytest.fixture
def default_cost() -> Iterator[None]:
    use_cost(DEFAULT_COST)
    try:
        yield
    finally:
        use_cost(LOWERED)


def test_the_default_cost_is_rfc_9106s_second_recommended_option(default_cost: None) -> None:
    """A password hashed at the default cost is argon2id with t=3, 64 MiB and 4 lanes."""
    assert hash_password("a password").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_is_verified_at_the_cost_it_was_made_with(default_cost: None) -> None:
    """Lowering the cost for new hashes leaves stored ones verifiable, and the other way round."""
    strong = hash_password("strong one")
    use_cost(LOWERED)
    weak = hash_password("weak one")
    assert weak.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert check_password(strong, "strong one") and not check_password(strong, "weak one")
    use_cost(DEFAULT_COST)
    assert check_password(weak, "weak one") and not check_password(weak, "strong one")


def test_a_refusal_without_a_hash_is_checked_against_a_dummy_of_the_current_cost(
    default_cost: None, argon2_verifications: list[str]
) -> None:
    """The dummy hash a missing password is verified against is made anew when the cost changes."""
    assert not check_password(None, "anything")
    use_cost(LOWERED)
    assert not check_password(None, "anything")
    assert [hash.split("$")[3] for hash in argon2_verifications] == ["m=65536,t=3,p=4", "m=1024,t=1,p=1"]
