"""Hostile text at every entry point, over HTTP, on SQLite and PostgreSQL (ADR 0021).

PostgreSQL cannot store a NUL (U+0000) and cannot index an entry above 2,704 bytes;
SQLite can do both. These tests send each probe of the outside review to each entry
point on both engines and require the service's own answer, the same on both: 400 in
the SCIM Error shape under the SCIM base, 400/422 in the JSON API's error shape under
/api/v1 and the feed, never a 5xx.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from scimhub.query.schema import ERROR, PATCH_OP
from scimhub.query.schema import SEARCH_REQUEST as SEARCH
from tests.integration.conftest import LiveServer
from tests.integration.test_scim_http import unique

NUL = "\x00"


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@dataclass(frozen=True)
class Probe:
    """One request carrying hostile text, and the error it must get."""

    name: str
    method: str
    path: str
    """Below the SCIM base, or starting with /api/v1 or /openapi for the other APIs;
    ``{user}`` and ``{group}`` are replaced by the ids of a user and a group."""
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    scim_type: str | None = "invalidValue"
    """The SCIM ``scimType`` (None under the JSON API and the feed)."""
    words: tuple[str, ...] = ("NUL",)
    """What the detail must say."""


NUL_PROBES = (
    Probe("userName", "POST", "/Users", {"userName": f"a{NUL}b"}),
    Probe("title", "POST", "/Users", {"userName": unique("u"), "title": f"x{NUL}"}),
    Probe("name.givenName", "POST", "/Users", {"userName": unique("u"), "name": {"givenName": NUL}}),
    Probe("externalId", "POST", "/Users", {"userName": unique("u"), "externalId": f"e{NUL}"}),
    Probe("email", "POST", "/Users", {"userName": unique("u"), "emails": [{"value": f"a{NUL}@x.org"}]}),
    Probe("group displayName", "POST", "/Groups", {"displayName": f"g{NUL}"}),
    Probe("member id", "POST", "/Groups", {"displayName": unique("g"), "members": [{"value": f"m{NUL}"}]}),
    Probe("PUT", "PUT", "/Users/{user}", {"userName": unique("u"), "nickName": f"n{NUL}"}),
    Probe(
        "PATCH value", "PATCH", "/Users/{user}", patch_body({"op": "replace", "path": "title", "value": NUL})
    ),
    Probe(
        "PATCH path",
        "PATCH",
        "/Users/{user}",
        patch_body({"op": "replace", "path": f"title{NUL}", "value": "x"}),
        scim_type="invalidPath",
    ),
    Probe(
        "PATCH member filter",
        "PATCH",
        "/Groups/{group}",
        patch_body({"op": "remove", "path": f'members[value eq "{NUL}"]'}),
        scim_type="invalidPath",
    ),
    Probe("GET id", "GET", "/Users/a%00b"),
    Probe(
        "PATCH id",
        "PATCH",
        "/Groups/a%00b",
        patch_body({"op": "replace", "path": "displayName", "value": "x"}),
    ),
    Probe("DELETE id", "DELETE", "/Users/a%00b"),
    Probe("filter", "GET", "/Users", params={"filter": f'userName eq "a{NUL}"'}, scim_type="invalidFilter"),
    Probe(
        "bare filter", "GET", "/Groups", params={"filter": f"externalId eq a{NUL}"}, scim_type="invalidFilter"
    ),
    Probe("sortBy", "GET", "/Users", params={"sortBy": f"userName{NUL}"}),
    Probe("attributes", "GET", "/Users", params={"attributes": f"userName{NUL}"}),
    Probe(
        ".search filter",
        "POST",
        "/Users/.search",
        {"schemas": [SEARCH], "filter": f'emails.value eq "{NUL}"'},
        scim_type="invalidFilter",
    ),
    Probe(".search sortBy", "POST", "/.search", {"schemas": [SEARCH], "sortBy": NUL}, words=()),
    Probe("API token name", "POST", "/api/v1/tokens", {"name": f"t{NUL}"}, scim_type=None),
    Probe(
        "API token description", "POST", "/api/v1/tokens", {"name": "t", "description": NUL}, scim_type=None
    ),
    Probe(
        "API actorUrn",
        "POST",
        "/api/v1/tokens",
        {"name": "t", "actorUrn": f"urn:li:corpuser:{NUL}"},
        scim_type=None,
    ),
    Probe(
        "API actorUrn query",
        "GET",
        "/api/v1/tokens",
        params={"actorUrn": f"urn:li:corpuser:{NUL}"},
        scim_type=None,
    ),
    Probe("API token id", "GET", "/api/v1/tokens/a%00b", scim_type=None),
    Probe("API token revoke", "DELETE", "/api/v1/tokens/a%00b", scim_type=None),
    Probe("API user id", "GET", "/api/v1/users/a%00b", scim_type=None),
    Probe("API group id", "GET", "/api/v1/groups/a%00b", scim_type=None),
    Probe("API role grant", "PUT", "/api/v1/roles/Reader/users/a%00b", scim_type=None),
    Probe("API role name", "GET", "/api/v1/roles/Read%00er/members", scim_type=None),
    Probe(
        "API events entity",
        "GET",
        "/api/v1/events",
        params={"entity": f"urn:li:corpuser:{NUL}"},
        scim_type=None,
    ),
    Probe(
        "API events actor",
        "GET",
        "/api/v1/events",
        params={"actor": f"urn:li:corpuser:{NUL}"},
        scim_type=None,
    ),
    Probe("API events cursor", "GET", "/api/v1/events", params={"before": NUL}, scim_type=None),
    Probe("poll offsetId", "GET", "/openapi/v1/events/poll", params={"offsetId": f"x{NUL}"}, scim_type=None),
    Probe("poll topic", "GET", "/openapi/v1/events/poll", params={"topic": NUL}, scim_type=None),
)


@pytest.fixture(scope="module")
def targets(live: LiveServer) -> Iterator[dict[str, str]]:
    """Yield the ids of a user and a group the probes may aim at."""
    with live.client() as scim:
        user = scim.post("/Users", json={"userName": unique("target")})
        group = scim.post("/Groups", json={"displayName": unique("target")})
        assert user.status_code == group.status_code == 201, user.text + group.text
        yield {"user": user.json()["id"], "group": group.json()["id"]}


def send(live: LiveServer, probe: Probe, targets: dict[str, str]) -> httpx.Response:
    """Send one probe to the API its path names, as the admin."""
    path = probe.path.format(**targets)
    base = "" if path.startswith(("/api/", "/openapi/")) else "/scim/v2"
    with live.client(base=base) as client:
        return client.request(probe.method, path, json=probe.json, params=probe.params)


def assert_refused(response: httpx.Response, probe: Probe) -> str:
    """Check the error's status and shape for the API the probe went to; return its detail."""
    assert response.status_code < 500, response.text
    body = response.json()
    if probe.scim_type is not None:
        assert response.status_code == 400, response.text
        assert body["schemas"] == [ERROR]
        assert body["status"] == "400"
        assert body.get("scimType") == probe.scim_type, body
    else:
        assert response.status_code in (400, 422), response.text
        assert set(body) == {"status", "error", "detail"}
        assert body["status"] == response.status_code
    for word in probe.words:
        assert word in body["detail"], body
    return str(body["detail"])


@pytest.mark.parametrize("probe", NUL_PROBES, ids=lambda p: p.name)
def test_a_nul_is_refused_at_every_entry_point(
    live: LiveServer, targets: dict[str, str], probe: Probe
) -> None:
    """A NUL (U+0000) anywhere it could reach the database is a 400 naming it, on both engines."""
    assert_refused(send(live, probe, targets), probe)


def scattered(low: int, high: int, size: int) -> str:
    """Return ``size`` random characters from U+low..U+high: text PostgreSQL cannot compress
    into an index entry (a run of one letter compresses, and would hide the limit)."""
    return "".join(chr(random.randint(low, high)) for _ in range(size))


LONG = scattered(0x61, 0x7A, 3000)
NFC_TRIPLES = [chr(c) for c in (*range(0x1D160, 0x1D165), *range(0x1D1BD, 0x1D1C1))]
"""Musical symbols NFC writes as three code points of four bytes each: the most any code point grows."""


@pytest.mark.parametrize(
    ("path", "body", "attribute", "limit"),
    [
        ("/Users", {"userName": LONG}, "userName", "256"),
        ("/Users", {"userName": unique("u"), "externalId": LONG}, "externalId", "512"),
        (
            "/Users",
            {"userName": unique("u"), "emails": [{"value": LONG + "@x.org"}]},
            "emails[0].value",
            "320",
        ),
        ("/Groups", {"displayName": LONG}, "displayName", "256"),
        ("/Groups", {"displayName": unique("g"), "externalId": LONG}, "externalId", "512"),
        ("/Users", {"userName": scattered(0x1F300, 0x1F5FF, 201)}, "userName", "800 bytes"),
        ("/Users", {"userName": unique("u"), "displayName": LONG}, "displayName", "256"),
        (
            "/Users",
            {"userName": unique("u"), "displayName": scattered(0x1F300, 0x1F5FF, 201)},
            "displayName",
            "800 bytes",
        ),
    ],
    ids=[
        "userName",
        "user externalId",
        "email",
        "group displayName",
        "group externalId",
        "userName bytes",
        "user displayName",
        "user displayName bytes",
    ],
)
def test_an_indexed_string_beyond_its_limit_is_refused(
    scim: httpx.Client, path: str, body: dict[str, Any], attribute: str, limit: str
) -> None:
    """A value beyond its attribute's limit is a 400 naming the attribute and the limit, on both engines."""
    response = scim.post(path, json=body)
    detail = assert_refused(response, Probe("long", "POST", path, words=()))
    assert attribute in detail and limit in detail


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/Users", {"userName": scattered(0x61, 0x7A, 256)}),
        ("/Users", {"userName": scattered(0x4E00, 0x9FFF, 256)}),  # 768 bytes
        ("/Users", {"userName": scattered(0x1F300, 0x1F5FF, 200)}),  # 800 bytes; its URN 2,416
        (
            "/Users",
            {
                "userName": unique("u"),
                "externalId": scattered(0xC0, 0x24F, 512),
                "emails": [{"value": scattered(0x1F300, 0x1F5FF, 320)}],
            },
        ),
        (
            "/Groups",
            {"displayName": scattered(0x4E00, 0x9FFF, 256), "externalId": scattered(0x1F300, 0x1F5FF, 512)},
        ),
        ("/Users", {"userName": unique("u"), "displayName": scattered(0x1F300, 0x1F5FF, 200)}),
        # Folded for its index (NFC, then lower case), each of these grows to three code points: 2,400 bytes.
        ("/Users", {"userName": unique("u"), "displayName": "".join(random.choices(NFC_TRIPLES, k=200))}),
    ],
    ids=[
        "ascii userName",
        "CJK userName",
        "emoji userName",
        "externalId and email",
        "CJK group",
        "emoji user displayName",
        "user displayName whose key triples",
    ],
)
def test_values_at_their_limits_are_stored_on_both_engines(
    scim: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    """The worst case each limit admits fits PostgreSQL's index entries: 201, and read back as sent."""
    response = scim.post(path, json=body)
    assert response.status_code == 201, response.text
    stored = scim.get(f"{path}/{response.json()['id']}").json()
    assert {k: stored[k] for k in body} == body


def test_a_filter_value_beyond_every_limit_matches_nothing(scim: httpx.Client) -> None:
    """A comparison value longer than any stored value can be is answered, with no result, on both engines."""
    for filter_ in (
        f'userName eq "{LONG}"',
        f'emails[type eq "work"].value eq "{LONG}"',
        f'externalId sw "{LONG}"',
        f'displayName co "{scattered(0x1F300, 0x1F5FF, 3000)}"',
    ):
        response = scim.post("/Users/.search", json={"schemas": [SEARCH], "filter": filter_})
        assert response.status_code == 200, response.text
        assert response.json()["totalResults"] == 0


def test_the_nfc_and_nfd_spellings_of_a_name_are_one_user(scim: httpx.Client) -> None:
    """userName is stored in NFC: the NFD spelling is taken, found by eq, and read back in NFC."""
    tail = uuid.uuid4().hex[:8]
    nfc, nfd = (unicodedata.normalize(form, f"José.Müller-{tail}@contoso.com") for form in ("NFC", "NFD"))
    assert nfc != nfd
    created = scim.post("/Users", json={"userName": nfd})
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == nfc
    again = scim.post("/Users", json={"userName": nfc.upper()})
    assert again.status_code == 409, again.text
    assert again.json()["scimType"] == "uniqueness"
    for spelling in (nfc, nfd):
        found = scim.get("/Users", params={"filter": f'userName eq "{spelling}"'}).json()
        assert [r["id"] for r in found["Resources"]] == [created.json()["id"]]


def test_the_nfc_and_nfd_spellings_of_a_group_name_are_one_group(scim: httpx.Client) -> None:
    """A Group's displayName is stored in NFC too: its NFD spelling is taken."""
    name = f"Équipe Café {uuid.uuid4().hex[:8]}"
    created = scim.post("/Groups", json={"displayName": unicodedata.normalize("NFD", name)})
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == name
    again = scim.post("/Groups", json={"displayName": name})
    assert again.status_code == 409, again.text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a\u200bb", ("format character", "U+200B")),  # zero-width space
        ("admin\u202egro", ("format character", "U+202E")),  # right-to-left override
        ("a\u2066b", ("format character", "U+2066")),  # left-to-right isolate
        ("a\u0007b", ("control character", "U+0007")),
        ("a\nb", ("control character", "U+000A")),
        ("a\u2028b", ("line separator", "U+2028")),
        ("a\ue000b", ("private-use", "U+E000")),
        ("a\U000e0001b", ("format character", "U+E0001")),  # language tag
        ("a\u0378b", ("unassigned", "U+0378")),
        (" alice", ("white space",)),
        ("alice\u00a0", ("white space",)),
    ],
)
@pytest.mark.parametrize(("path", "attribute"), [("/Users", "userName"), ("/Groups", "displayName")])
def test_look_alike_characters_are_refused_in_names(
    scim: httpx.Client, path: str, attribute: str, text: str, words: tuple[str, ...]
) -> None:
    """Names refuse what makes one look like another (RFC 8264 §9), naming the character."""
    detail = assert_refused(scim.post(path, json={attribute: text}), Probe("name", "POST", path, words=words))
    assert attribute in detail


@pytest.mark.parametrize(
    "name",
    [
        "first_gmail.com#EXT#@tenant.onmicrosoft.com",  # an Entra guest
        "o'brien@contoso.onmicrosoft.com",
        "Zoë.Müller@contoso.com",
        "jdoe",  # an Okta login without a domain
        "j.doe+okta@example.com",
        "Иван.Петров@пример.рф",
        "山田太郎@example.jp",
        "John Smith",
    ],
)
def test_real_clients_names_are_kept(scim: httpx.Client, name: str) -> None:
    """Entra's UPNs (guests, apostrophes, accents) and Okta's logins are accepted and returned unchanged."""
    user_name = f"{uuid.uuid4().hex[:6]}.{name}"
    response = scim.post("/Users", json={"userName": user_name})
    assert response.status_code == 201, response.text
    assert response.json()["userName"] == user_name


@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
@pytest.mark.parametrize("tag", ['W/"' + "9" * 5000 + '"', 'W/"²"', 'W/"٣"', 'W/"1x",' + " " * 8000 + "x"])
def test_a_version_that_cannot_be_ours_matches_nothing(
    scim: httpx.Client, targets: dict[str, str], header: str, tag: str
) -> None:
    """A precondition naming no version of ours: If-Match fails (412), If-None-Match does not match (200)."""
    url = f"/Users/{targets['user']}"
    if header == "If-Match":
        operation = patch_body({"op": "add", "path": "title", "value": "x"})
        response = scim.request("PATCH", url, json=operation, headers={header: _header_bytes(tag)})
        assert response.status_code == 412, response.text
    else:
        response = scim.get(url, headers={header: _header_bytes(tag)})
        assert response.status_code == 200, response.text


def _header_bytes(text: str) -> bytes:
    """Return a header value as a client would send it: Latin-1 where it can be, else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")
