"""GET of a large group streams its members (ADR 0019): the same bytes, one snapshot, no connection kept.

The in-process tests shrink the chunk to 2 members, so that groups of a few
members stream in several chunks; each answer is compared, byte for byte, with
what the handler gives when it reads the group whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from scimhub.directory.actors import SYSTEM
from scimhub.directory.groups import GroupEdit
from scimhub.directory.tokens import Verified
from scimhub.directory.users import UserEdit
from scimhub.domain.groups import Group, Member, MemberChange
from scimhub.scim.handler import ScimHandler
from scimhub.scim.messages import LazyArray, ScimRequest, ScimResponse
from scimhub.settings import Settings
from scimhub.web.app import create_app
from scimhub.web.scim import render
from scimhub.wiring import Services, build

SCIM = "/scim/v2"
BASE_URL = "http://testserver" + SCIM
CHUNK = 2


# The body around a lazy array, with fake arrays


def _send(asgi: Any, leave_after: int | None = None, **scope: Any) -> list[bytes]:
    """Send what ``asgi`` answers to a GET as uvicorn does (ASGI 2.3); the client leaves after
    ``leave_after`` body parts. ``scope`` adds to a bare HTTP scope."""
    parts: list[bytes] = []

    async def run() -> None:
        gone = asyncio.Event()
        requests: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            if requests:
                return requests.pop()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                parts.append(message["body"])
                if leave_after is not None and len(parts) >= leave_after:
                    gone.set()
                    await asyncio.sleep(0.05)  # the client is gone while this send is under way

        asgi_version = {"version": "3.0", "spec_version": "2.3"}
        await asgi({"type": "http", "asgi": asgi_version, "method": "GET", **scope}, receive, send)

    asyncio.run(run())
    return parts


class _Array:
    """A fake array source: its chunks, how far they were read, and when it was closed."""

    def __init__(self, chunks: list[list[Any]], fail_at: int | None = None, delay: float = 0.0) -> None:
        self.chunks, self.fail_at, self.delay = chunks, fail_at, delay
        self.events: list[str] = []

    def read(self) -> Iterator[list[Any]]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError("the database went away")
            time.sleep(self.delay)
            self.events.append(f"read {index}")
            yield chunk

    def close(self) -> None:
        self.events.append("closed")

    def lazy(self, keep_empty: bool = True) -> LazyArray:
        return LazyArray(self.read(), self.close, keep_empty)


def _streamed(body: dict[str, Any], core: ThreadPoolExecutor) -> Any:
    return render(ScimResponse(200, body, {"ETag": 'W/"1"'}), core, "/Groups/g")


BODIES = [
    pytest.param({"schemas": ["s"], "id": "g", "members": None, "meta": {"version": 'W/"1"'}}, id="middle"),
    pytest.param({"schemas": ["s"], "members": None}, id="last"),
    pytest.param({"members": None, "id": "g"}, id="first"),
    pytest.param({"members": None}, id="alone"),
]
CHUNKS = [
    pytest.param([], id="no-chunk"),
    pytest.param([[]], id="an-empty-chunk"),
    pytest.param([[{"value": "a"}, {"value": 'é"\\'}], [], [{"value": "c", "display": None}]], id="several"),
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("keep_empty", [True, False])
def test_a_streamed_body_is_what_orjson_renders_for_the_whole_body(
    body: dict[str, Any], chunks: list[list[Any]], keep_empty: bool
) -> None:
    """Head, chunks and tail join into ``orjson.dumps`` of the body with the array's values in place;
    an array left without values is ``[]`` when kept empty, else its key is left out."""
    source = _Array(chunks)
    values = [value for chunk in chunks for value in chunk]
    whole = {key: values if key == "members" else value for key, value in body.items()}
    if not values and not keep_empty:
        del whole["members"]
    with ThreadPoolExecutor(2) as core:
        parts = _send(_streamed({**body, "members": source.lazy(keep_empty)}, core))
    assert b"".join(parts) == orjson.dumps(whole)
    assert source.events[-1] == "closed"


def test_the_array_is_closed_when_the_client_leaves_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    """A client gone after the first part stops the reading; the array is closed after the chunk in flight."""
    source = _Array([[{"value": str(i)}] for i in range(50)], delay=0.02)
    with caplog.at_level(logging.INFO, "scimhub.web"), ThreadPoolExecutor(2) as core:
        parts = _send(_streamed({"id": "g", "members": source.lazy()}, core), leave_after=2)
    assert 2 <= len(parts) < 10
    assert source.events[-1] == "closed" and source.events.count("closed") == 1
    assert len(source.events) < 12
    assert "ended before its body was sent whole" in caplog.text


def test_an_error_after_the_headers_is_logged_and_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A chunk that fails is logged with its traceback and raised, so the server closes the connection
    (the client sees a truncated body, never a complete one); the array is closed."""
    source = _Array([[{"value": "a"}], [{"value": "b"}]], fail_at=1)
    with ThreadPoolExecutor(2) as core, pytest.raises(RuntimeError, match="went away"):
        _send(_streamed({"id": "g", "members": source.lazy(), "meta": {}}, core))
    assert source.events == ["read 0", "closed"]
    assert "GET /Groups/g failed after its headers were sent" in caplog.text


# Real groups, on both engines


@pytest.fixture(scope="module")
def hub(module_database_url: str) -> Iterator[Services]:
    """Yield services on a fresh database per backend, holding the groups of ``GROUPS``."""
    services = build(Settings(database_url=module_database_url))
    try:
        yield services
    finally:
        services.close()


def _user(hub: Services, name: str) -> str:
    return hub.users.create(SYSTEM, UserEdit({"userName": name}, None)).id


def _group(hub: Services, name: str, members: list[Member]) -> Group:
    doc = {"displayName": name, "externalId": f"ext-{name}"}
    return hub.groups.create(SYSTEM, GroupEdit(doc, MemberChange(add=tuple(members))))


@pytest.fixture(scope="module")
def groups(hub: Services) -> dict[str, tuple[Group, int]]:
    """Return groups of 0 to 7 members, by name: with and without ``display``, a nested group among them."""
    nested = _group(hub, "nested", [])
    named = [Member(_user(hub, f"named{i}"), display=f"Named {i}") for i in range(4)]
    nameless = [Member(_user(hub, f"nameless{i}")) for i in range(5)]
    made = {
        "empty": [],
        "pair": named[:2],
        "trio": nameless[:3],
        "named": named,
        "nameless": nameless,
        "mixed": [*named[:3], *nameless[:3], Member(nested.id, display="Nested")],
    }
    return {name: (_group(hub, name, members), len(members)) for name, members in made.items()}


class _AnyToken:
    """Tokens that all act as the system: authentication is not what these tests are about."""

    def verify(self, token: str) -> Verified:
        return Verified(SYSTEM, 0, touch_due=False)


@pytest.fixture(scope="module")
def client(hub: Services) -> TestClient:
    """Return a client of the app whose handler streams groups of more than ``CHUNK`` members."""
    streaming = ScimHandler(hub.users, hub.groups, hub.settings, members_per_chunk=CHUNK)
    app = create_app(replace(hub, scim=streaming, tokens=_AnyToken()))  # type: ignore[arg-type]
    return TestClient(app, headers={"Authorization": "Bearer any"})


def _whole(hub: Services, path: str, query: dict[str, str], headers: dict[str, str]) -> ScimResponse:
    """Return the handler's answer when it reads every group whole."""
    reference = ScimHandler(hub.users, hub.groups, hub.settings, members_per_chunk=10**9)
    return reference.handle(ScimRequest("GET", path, BASE_URL, query, headers, actor=SYSTEM))


def _eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


PROJECTIONS = [
    pytest.param({}, True, id="full"),
    pytest.param({"attributes": "members"}, True, id="members"),
    pytest.param({"attributes": "members.value"}, True, id="members.value"),
    pytest.param({"attributes": "members.display"}, True, id="members.display"),
    pytest.param({"attributes": "members.$ref"}, True, id="members.$ref"),
    pytest.param({"attributes": "displayName,members.type"}, True, id="displayName,members.type"),
    pytest.param({"attributes": "urn:ietf:params:scim:schemas:core:2.0:Group"}, True, id="core-urn"),
    pytest.param({"excludedAttributes": "meta"}, True, id="not-meta"),
    pytest.param({"excludedAttributes": "members.display,externalId"}, True, id="not-display,externalId"),
    pytest.param({"excludedAttributes": "members"}, False, id="not-members"),
    pytest.param({"attributes": "displayName"}, False, id="displayName"),
]


@pytest.mark.parametrize(("query", "with_members"), PROJECTIONS)
def test_a_streamed_group_is_the_document_a_whole_read_sends(
    hub: Services,
    groups: dict[str, tuple[Group, int]],
    client: TestClient,
    query: dict[str, str],
    with_members: bool,
) -> None:
    """Under every projection, status, ETag and bytes equal the whole read's; groups of more members than
    a chunk are streamed (no Content-Length), the others are not; no connection stays checked out."""
    for name, (group, size) in groups.items():
        path = f"/Groups/{group.id}"
        expected = _whole(hub, path, query, {})
        response = client.get(SCIM + path, params=query)

        assert response.status_code == expected.status, name
        assert response.headers["etag"] == expected.headers["ETag"], name
        assert response.headers["content-type"] == "application/scim+json", name
        assert response.content == orjson.dumps(expected.body), (name, response.content)
        streamed = "content-length" not in response.headers
        assert streamed == (with_members and size > CHUNK), name
        assert _eventually(lambda: hub.store.in_use() == 0), name


def test_a_matching_if_none_match_answers_304_without_streaming(
    hub: Services, groups: dict[str, tuple[Group, int]], client: TestClient
) -> None:
    """A large group's GET with its current ETag answers 304 and its ETag; an older ETag gets the group."""
    group, _ = groups["mixed"]
    etag = f'W/"{group.version}"'
    fresh = client.get(f"{SCIM}/Groups/{group.id}", headers={"If-None-Match": etag})
    stale = client.get(f"{SCIM}/Groups/{group.id}", headers={"If-None-Match": 'W/"0"'})

    assert fresh.status_code == 304 and fresh.headers["etag"] == etag and fresh.content == b""
    assert stale.status_code == 200
    assert stale.content == orjson.dumps(_whole(hub, f"/Groups/{group.id}", {}, {}).body)
    assert _eventually(lambda: hub.store.in_use() == 0)


def test_a_client_leaving_mid_stream_leaves_no_connection_checked_out(
    hub: Services, groups: dict[str, tuple[Group, int]], client: TestClient
) -> None:
    """The app sends to a client that leaves after the head: the snapshot's connection returns to the pool."""
    group, _ = groups["mixed"]
    path = f"{SCIM}/Groups/{group.id}"
    parts = _send(
        client.app,
        leave_after=1,
        http_version="1.1",
        scheme="http",
        server=("testserver", 80),
        client=("127.0.0.1", 50000),
        root_path="",
        path=path,
        raw_path=path.encode(),
        query_string=b"",
        headers=[(b"host", b"testserver"), (b"authorization", client.headers["authorization"].encode())],
    )

    whole = orjson.dumps(_whole(hub, f"/Groups/{group.id}", {}, {}).body)
    assert parts and len(b"".join(parts)) < len(whole)
    assert _eventually(lambda: hub.store.in_use() == 0)


def test_in_process_callers_release_a_streamed_response_with_close(
    hub: Services, groups: dict[str, tuple[Group, int]]
) -> None:
    """A caller of the handler that does not send a streamed response closes it: the connection goes back."""
    group, _ = groups["mixed"]
    streaming = ScimHandler(hub.users, hub.groups, hub.settings, members_per_chunk=CHUNK)
    response = streaming.handle(ScimRequest("GET", f"/Groups/{group.id}", BASE_URL, actor=SYSTEM))
    assert response.lazy_array() is not None
    assert hub.store.in_use() == 1

    response.close()

    assert hub.store.in_use() == 0
