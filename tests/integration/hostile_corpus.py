"""Hostile and malformed SCIM requests: a fixed corpus and hypothesis strategies (issue 11, item 3).

Shared by the in-process tests (tests/scim/test_hostile.py), the live tests
(tests/integration/test_hostile_scim.py) and the fuzz campaign (bench/fuzz.py).
A ``Probe`` is one request below the SCIM base; ``{user}`` and ``{group}`` in its
path stand for the ids of a user and a group the caller made first.

What every answer must be: not a 5xx; an error in the RFC 7644 §3.12 shape
(``check_answer``). Values the "inputs" work refuses (NUL characters, values
longer than an index entry) are in the corpus too: they must answer 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"


@dataclass(frozen=True)
class Probe:
    """One request below the SCIM base."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = SCIM_JSON
    name: str = ""

    def at(self, user: str, group: str) -> Probe:
        """Return the probe with ``{user}`` and ``{group}`` in its path replaced by real ids."""
        path = self.path.replace("{user}", user).replace("{group}", group)
        return Probe(self.method, path, self.query, self.body, self.content_type, self.name)

    def headers(self) -> dict[str, str]:
        """Return the probe's Content-Type header, if it has one."""
        return {"content-type": self.content_type} if self.content_type and self.body is not None else {}


def check_answer(status: int, body: bytes) -> str | None:
    """Return what is wrong with an answer to a hostile request, or None when it is acceptable.

    Acceptable: a 2xx/3xx, or a 4xx whose body is an RFC 7644 §3.12 Error with
    ``status`` the HTTP status as a string. Never a 5xx.
    """
    if status >= 500:
        return f"status {status}"
    if status < 400:
        return None
    try:
        error = json.loads(body)
    except ValueError:
        return f"status {status} with a body that is not JSON: {body[:200]!r}"
    if not isinstance(error, dict) or error.get("schemas") != [ERROR_URN]:
        return f"status {status} with a body that is no SCIM Error: {body[:200]!r}"
    if error.get("status") != str(status):
        return f"status {status} but the Error says {error.get('status')!r}"
    return None


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


INJECTIONS = [
    "' OR '1'='1",
    "x' OR 1=1 --",
    '" OR ""="',
    "1; DROP TABLE users; --",
    "'); DELETE FROM group_members; --",
    "\\' UNION SELECT token_hash FROM tokens --",
    "%' OR username LIKE '%",
    "a\\",
    "*)(uid=*))(|(uid=*",
    "${jndi:ldap://127.0.0.1/a}",
]
UNICODE = [
    "Ame\u0301lie",  # NFD
    "Am\u00e9lie",  # NFC
    "zero\u200bwidth",
    "rtl\u202eevil",
    "\ufeffbom",
    "\U0001f600emoji",
    "line\nbreak",
    "tab\tand\rreturn",
    "\u0000nul",
    "ｆｕｌｌｗｉｄｔｈ",
]
FILTERABLE = [
    "userName",
    "displayName",
    "externalId",
    "id",
    "title",
    "emails.value",
    "emails.type",
    "name.givenName",
    "name.familyName",
    "phoneNumbers.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "meta.lastModified",
    "active",
]


def _filter_probes() -> list[Probe]:
    probes = []
    for attribute in FILTERABLE:
        for value in INJECTIONS + UNICODE:
            text = f"{attribute} eq {json.dumps(value)}"
            probes.append(Probe("GET", "/Users", {"filter": text}, name=f"filter {attribute} injection"))
        probes.append(
            Probe("GET", "/Users", {"filter": f"{attribute} eq x' OR '1'='1"}, name="bare injection")
        )
    for value in INJECTIONS[:3]:
        probes.append(
            Probe("GET", "/Groups", {"filter": f"displayName eq {json.dumps(value)}"}, name="group filter")
        )
        probes.append(
            Probe("GET", "/Groups", {"filter": f"members.value eq {json.dumps(value)}"}, name="members")
        )
        probes.append(Probe("GET", "/Users", {"sortBy": value}, name="sortBy injection"))
        probes.append(Probe("GET", "/Users", {"attributes": value}, name="attributes injection"))
    return probes


LONG = "".join(f"{i * 7919 % 65521:04x}" for i in range(750))
"""3,000 characters that do not compress: longer than a PostgreSQL btree index entry may be."""


def _size_probes() -> list[Probe]:
    many_or = " or ".join(f'userName eq "u{i}"' for i in range(1000))
    deep = "(" * 10_000 + "userName pr" + ")" * 10_000
    patch_10k = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "t"}] * 10_000,
    }
    big_filter_ops = [
        {
            "op": "replace",
            "path": "emails[" + " or ".join(f'value eq "x{i}"' for i in range(100)) + "].type",
            "value": "w",
        }
    ] * 30
    return [
        Probe("GET", "/Users", {"filter": many_or}, name="1000-term filter"),
        Probe("POST", "/Users/.search", body=_json({"filter": many_or}), name="1000-term search"),
        Probe("GET", "/Users", {"filter": deep[:60_000]}, name="deep parentheses"),
        Probe("GET", "/Users", {"filter": "not (" * 500 + "title pr" + ")" * 500}, name="deep not"),
        Probe("PATCH", "/Users/{user}", body=_json(patch_10k), name="10,000 operations"),
        Probe(
            "PATCH", "/Users/{user}", body=_json({"Operations": big_filter_ops}), name="30 × 100-term filters"
        ),
        Probe("POST", "/Users", body=b"[" * 10_000 + b"]" * 10_000, name="10,000-deep arrays"),
        Probe("POST", "/Users", body=b'{"a":' * 5_000 + b"1" + b"}" * 5_000, name="5,000-deep objects"),
        Probe(
            "PATCH",
            "/Users/{user}",
            body=b'{"Operations":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            name="deep ops",
        ),
        Probe("POST", "/Users", body=_json({"userName": LONG}), name="3,000-character userName"),
        Probe(
            "POST", "/Users", body=_json({"userName": "ok-ext", "externalId": LONG}), name="long externalId"
        ),
        Probe("POST", "/Groups", body=_json({"displayName": LONG}), name="3,000-character displayName"),
        Probe("GET", "/Users", {"filter": f'userName eq "{LONG[:2000]}"'}, name="long filter literal"),
        Probe(
            "POST",
            "/Users",
            body=_json({"userName": "ok-long", "emails": [{"value": LONG}]}),
            name="long email",
        ),
        Probe("GET", "/Users", {"attributes": ",".join(["userName"] * 5000)}, name="5,000 attribute names"),
        Probe("GET", "/Users", {"sortBy": "a." * 5000}, name="long sortBy"),
        Probe("GET", "/Users", {"count": "9" * 500, "startIndex": "-" + "9" * 500}, name="huge count"),
    ]


def _body_probes() -> list[Probe]:
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dup"}
    return [
        Probe("POST", "/Users", body=b"", name="empty body"),
        Probe("POST", "/Users", body=b"   ", name="blank body"),
        Probe("POST", "/Users", body=b"null", name="null body"),
        Probe("POST", "/Users", body=b'{"userName": 1e400}', name="1e400"),
        Probe("POST", "/Users", body=b'{"userName": "a", "active": 1e400}', name="1e400 boolean"),
        Probe(
            "PATCH",
            "/Users/{user}",
            body=_json({"Operations": [{"op": "replace", "path": "x", "value": 1}]}),
            name="x",
        ),
        Probe("POST", "/Users", body=b'{"userName": "a", "userName": "b"}', name="duplicate keys"),
        Probe("POST", "/Users", body=b'{"userName": "\\ud800"}', name="lone surrogate"),
        Probe("POST", "/Users", body=b'{"userName": "\xff\xfe"}', name="invalid UTF-8"),
        Probe("POST", "/Users", body=b'{"userName": "a\x00b"}', name="raw NUL byte"),
        Probe("POST", "/Users", body=b'{"userName": "a\\u0000b"}', name="escaped NUL"),
        Probe("POST", "/Users", body=_json(user), content_type="text/plain", name="text/plain"),
        Probe("POST", "/Users", body=_json(user), content_type="application/xml", name="xml"),
        Probe(
            "POST",
            "/Users",
            body=_json(user),
            content_type="multipart/form-data; boundary=x",
            name="multipart",
        ),
        Probe(
            "POST",
            "/Users",
            body=_json(user),
            content_type="application/scim+json; charset=latin-1",
            name="cs",
        ),
        Probe("POST", "/Users", body=_json(user), content_type="", name="empty content type"),
        Probe("PUT", "/Users/{user}", body=b"[]", name="array PUT"),
        Probe("PATCH", "/Users/{user}", body=b'{"Operations": "x"}', name="string operations"),
        Probe(
            "PATCH",
            "/Groups/{group}",
            body=_json({"Operations": [{"op": "add", "path": "members", "value": [{"value": "' OR 1=1"}]}]}),
            name="member injection",
        ),
        Probe(
            "PATCH",
            "/Groups/{group}",
            body=_json({"Operations": [{"op": "remove", "path": 'members[value eq "\\ud800"]'}]}),
            name="surrogate path",
        ),
        Probe("GET", "/Users/' OR '1'='1", name="id injection"),
        Probe("GET", "/Users/%00", name="NUL id"),
        Probe("GET", "/Users/%FF%FE", name="invalid UTF-8 id"),
        Probe("GET", "/Users/%ED%A0%80", name="surrogate id"),
        Probe("DELETE", "/Groups/..%2F..%2Fhealthz", name="traversal"),
        Probe("GET", "/Users?filter=userName%20eq%20%22%FF%FE%22", name="invalid UTF-8 in query"),
        Probe("GET", "/Users?filter=userName%20eq%20%22%ED%A0%80%22", name="surrogate in query"),
        Probe("GET", "/Users", {"filter": 'userName eq "a\x00"'}, name="NUL in filter"),
    ]


def corpus() -> list[Probe]:
    """Return the fixed corpus: SQL injection in every filterable attribute, Unicode, sizes, bodies."""
    return _filter_probes() + _size_probes() + _body_probes()


# -- hypothesis strategies --------------------------------------------------------------

_ATTRIBUTES = [*FILTERABLE, "members", "emails", "name", "groups", "password", "meta", "schemas", "x", ""]
_OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "and", "or", "not", "EQ", "xx"]
_TEXT = st.text(max_size=30) | st.sampled_from(INJECTIONS + UNICODE)
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def filters(draw: st.DrawFn) -> str:
    """Draw filter text: near the grammar (attributes, operators, literals, brackets), or noise."""
    pieces = st.sampled_from(_ATTRIBUTES) | st.sampled_from(_OPERATORS) | _TEXT.map(json.dumps)
    pieces |= st.sampled_from(["(", ")", "[", "]", '"', "null", "true", "2024-01-01T00:00:00Z", "1e400", "."])
    words = draw(st.lists(pieces, max_size=12))
    return " ".join(words) if draw(st.booleans()) else "".join(words)


@st.composite
def patch_paths(draw: st.DrawFn) -> str:
    """Draw PATCH path text: attributes, value filters, sub-attributes, URNs, noise."""
    head = draw(st.sampled_from(_ATTRIBUTES))
    if draw(st.booleans()):
        head += "[" + draw(filters()) + "]" * draw(st.integers(0, 2))
    if draw(st.booleans()):
        head += "." + draw(st.sampled_from(["value", "type", "display", "primary", "givenName", "", "x"]))
    return head


@st.composite
def user_bodies(draw: st.DrawFn) -> Any:
    """Draw User bodies near the schema, with wrong types, unknown keys and hostile strings."""
    known = st.fixed_dictionaries(
        {},
        optional={
            "schemas": st.just(["urn:ietf:params:scim:schemas:core:2.0:User"]) | _JSON,
            "userName": _TEXT | _JSON,
            "displayName": _TEXT,
            "externalId": _TEXT | _SCALARS,
            "active": _SCALARS,
            "name": st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted", "x"]), _SCALARS)
            | _JSON,
            "emails": st.lists(
                st.dictionaries(st.sampled_from(["value", "type", "primary", "display"]), _SCALARS),
                max_size=4,
            )
            | _JSON,
            "password": _TEXT | _SCALARS,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": st.dictionaries(
                st.sampled_from(["employeeNumber", "manager", "department"]), _JSON, max_size=3
            ),
        },
    )
    body = draw(known)
    body.update(draw(st.dictionaries(_TEXT, _JSON, max_size=2)))
    return body if draw(st.integers(0, 9)) else draw(_JSON)


@st.composite
def group_bodies(draw: st.DrawFn) -> Any:
    """Draw Group bodies: displayName and members of any shape."""
    members = st.lists(
        st.dictionaries(st.sampled_from(["value", "type", "display", "$ref"]), _SCALARS), max_size=4
    )
    return draw(
        st.fixed_dictionaries({}, optional={"displayName": _TEXT | _SCALARS, "members": members | _JSON})
    )


@st.composite
def patch_bodies(draw: st.DrawFn) -> Any:
    """Draw PatchOp bodies: operations with drawn ops, paths and values."""
    operation = st.fixed_dictionaries(
        {},
        optional={
            "op": st.sampled_from(["add", "remove", "replace", "Replace", "ADD", "move", ""]) | _SCALARS,
            "path": patch_paths() | _SCALARS,
            "value": _JSON,
        },
    )
    body = {"schemas": [PATCH_OP], "Operations": draw(st.lists(operation, max_size=5))}
    if draw(st.integers(0, 9)) == 0:
        body["schemas"] = draw(_JSON)
    return body


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


def probes() -> st.SearchStrategy[Probe]:
    """Draw any probe: searches with drawn parameters, and writes with drawn bodies."""
    search = st.builds(
        lambda resource, query: Probe("GET", resource, query, name="drawn search"),
        st.sampled_from(["/Users", "/Groups", "/"]),
        st.fixed_dictionaries(
            {},
            optional={
                "filter": filters(),
                "sortBy": st.sampled_from(_ATTRIBUTES) | _TEXT,
                "attributes": _TEXT,
                "excludedAttributes": _TEXT,
                "count": _TEXT,
                "startIndex": _TEXT,
                "sortOrder": _TEXT,
            },
        ),
    )
    writes = st.one_of(
        user_bodies().map(lambda b: Probe("POST", "/Users", body=_encode(b), name="drawn user")),
        user_bodies().map(lambda b: Probe("PUT", "/Users/{user}", body=_encode(b), name="drawn user PUT")),
        group_bodies().map(lambda b: Probe("POST", "/Groups", body=_encode(b), name="drawn group")),
        patch_bodies().map(
            lambda b: Probe("PATCH", "/Users/{user}", body=_encode(b), name="drawn user PATCH")
        ),
        patch_bodies().map(
            lambda b: Probe("PATCH", "/Groups/{group}", body=_encode(b), name="drawn group PATCH")
        ),
        filters().map(
            lambda f: Probe("POST", "/Users/.search", body=_encode({"filter": f}), name="drawn .search")
        ),
    )
    return search | writes
