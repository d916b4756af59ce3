"""The SCIM requests the benchmarks send, built once for every command.

Shared by bench/run.py (scimhub against the floor) and bench/scale.py (scimhub
on a large data set), so that a ``userName eq`` lookup or a member add is the
same request, encoded the same way, in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode

import orjson
from load import Request
from seed import user_body

SCIM = "/scim/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def search(resource: str, **params: str | int) -> Request:
    """Return ``GET /<resource>?<params>`` (``filter``, ``sortBy``, ``startIndex``…), percent-encoded."""
    query = urlencode(params, quote_via=quote, safe="")
    return Request("GET", f"{SCIM}/{resource}" + (f"?{query}" if query else ""))


def filter_requests(template: str, values: Iterable[str]) -> list[Request]:
    """Return one ``GET /Users?filter=…`` per value, ``template`` holding ``{}`` where the value goes."""
    return [search("Users", filter=template.format(value)) for value in values]


def user_creates(tag: str, indices: Iterable[int]) -> list[Request]:
    """Return one ``POST /Users`` per index: Entra's body for that user of the ``tag`` batch; 201 each."""
    return [Request("POST", f"{SCIM}/Users", orjson.dumps(user_body(tag, i)), 201) for i in indices]


def member_patches(group_id: str, member_ids: Iterable[str], op: str = "Add") -> list[Request]:
    """Return one PATCH per member in Entra's shape, adding (``Add``) or removing (``Remove``) it; 204 each.

    Entra sends both as ``{"op": …, "path": "members", "value": [{"value": "<id>"}]}``.
    """

    def body(member_id: str) -> bytes:
        operation = {"op": op, "path": "members", "value": [{"value": member_id}]}
        return orjson.dumps({"schemas": [PATCH_OP], "Operations": [operation]})

    return [Request("PATCH", f"{SCIM}/Groups/{group_id}", body(m), 204) for m in member_ids]
