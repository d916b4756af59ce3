from typing import Any

import pytest
from scim2_models import ListResponse, User

from scimhub.query.schema import CORE_USER, LIST_RESPONSE
from scimhub.scim.listing import list_response


def test_list_response_carries_the_page_and_the_total() -> None:
    """A ListResponse states totalResults, itemsPerPage (the page size) and startIndex (RFC 7644 §3.4.2)."""
    page = [{"schemas": [CORE_USER], "id": str(i), "userName": f"user{i}"} for i in (1, 2)]

    document = list_response(page, total=5, start_index=3)

    assert document == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 5,
        "itemsPerPage": 2,
        "startIndex": 3,
        "Resources": page,
    }
    assert ListResponse[User[Any]].model_validate(document).total_results == 5


def test_empty_list_response_keeps_an_empty_resources_array() -> None:
    """A query that matches nothing answers ``Resources: []``, as Entra's probes expect."""
    assert list_response([], total=0, start_index=1)["Resources"] == []


@pytest.mark.parametrize(("total", "start_index"), [(0, 1), (1, 0)])
def test_list_response_rejects_impossible_numbers(total: int, start_index: int) -> None:
    """A total below the page size or a 0-based start index is a programming error."""
    with pytest.raises(ValueError):
        list_response([{"id": "1"}], total=total, start_index=start_index)
