"""Replay identity providers' SCIM traffic, stored as data, against the live server (SQLite and PostgreSQL).

Each file of ``tests/scim/replays/entra/`` is one flow or one quirk of
docs/entra-client.md, each of ``tests/scim/replays/okta/`` one flow of Okta's
documented request sequence (docs/okta.md), written as the requests the client
sends and what it expects back::

    {"name": "…", "source": "§2.1", "dialect": "default" | "aadOptscim062020" | "both",
     "base": "/gms/openapi/scim/v2" (optional, the seed's Tenant URL path),
     "steps": [{"name": "…", "method": "POST", "path": "/Users", "body": {…},
                "save": "alice",
                "expect": {"status": 201, "body": {…}, "match": "subset" | "attributes" | "exact",
                           "absent": ["members"], "unordered": ["members"],
                           "detail_contains": ["Admin"], "types": {"totalResults": "integer"}}}]}

``{{run}}`` is a token unique to one run of a file (userNames must not clash
across runs on the shared server), ``{{guid}}`` and ``{{guid2}}`` random GUIDs of
that run, ``{{base}}`` the absolute SCIM base URL, and ``{{alice.id}}`` a value of
the response saved as ``alice`` (a dotted path into its body; a placeholder that
is a whole string keeps the value's JSON type). With ``aadOptscim062020`` every
request carries the flag as Entra's Tenant URL would (``?aadOptscim062020``);
``both`` runs the file once per dialect.

Expectations: ``subset`` (default) checks that every expected key is present
with a matching value, lists element by element with the same length;
``attributes`` compares each expected top-level attribute for equality (the
round trip: what Entra sent comes back equal); ``exact`` compares the whole
body. ``unordered`` names lists compared in any order (``members`` come back
ordered by id, not as added). ``types`` names values that must have a JSON type
(``/``-separated paths: Okta's connection test checks that the paging numbers are
integers). ``absent`` lists keys that must not be there (``Resources/0/members``:
a ``/``-separated path, since URNs hold dots). Every answer must be
``application/scim+json`` when it has a body, and
arrive well within Entra's 60 s limit (§6.3).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveServer

REPLAYS = Path(__file__).parents[1] / "scim" / "replays"
CLIENTS = ("entra", "okta")
FLAG = "aadOptscim062020"
DIALECTS = {"default": ("default",), FLAG: (FLAG,), "both": ("default", FLAG)}
TENANT_PATH = "/gms/openapi/scim/v2"
SLOW = 10.0
"""Seconds; Entra gives up after 60 (§6.3), a test server answers in milliseconds."""

_FILE_KEYS = {"name", "source", "dialect", "base", "steps", "notes"}
_STEP_KEYS = {"name", "method", "path", "body", "save", "expect", "headers"}
_EXPECT_KEYS = {"status", "body", "match", "absent", "detail_contains", "unordered", "types"}
_JSON_TYPES = {"integer": int, "string": str, "array": list, "object": dict, "boolean": bool}
_PLACEHOLDER = re.compile(r"\{\{([\w.$:-]+)\}\}")


def replay_files() -> list[Path]:
    """Return every replay file of every client, sorted by client, then name."""
    return sorted(path for client in CLIENTS for path in (REPLAYS / client).glob("*.json"))


@dataclass
class Run:
    """One run of one replay file: the values its placeholders stand for."""

    values: dict[str, Any] = field(default_factory=dict)

    def fill(self, template: Any) -> Any:
        """Return ``template`` with every placeholder replaced, recursively."""
        if isinstance(template, dict):
            return {self.fill(key): self.fill(value) for key, value in template.items()}
        if isinstance(template, list):
            return [self.fill(item) for item in template]
        if not isinstance(template, str):
            return template
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return self.lookup(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(self.lookup(m.group(1))), template)

    def lookup(self, name: str) -> Any:
        """Return the value a placeholder names; fail the test on an unknown one."""
        head, _, rest = name.partition(".")
        if head not in self.values:
            pytest.fail(f"unknown placeholder {{{{{name}}}}}")
        value = self.values[head]
        for key in rest.split(".") if rest else ():
            value = value[int(key)] if isinstance(value, list) else value[key]
        return value


def test_every_replay_file_is_well_formed() -> None:
    """Each replay names its flow and source, and every step and expectation uses known keys only."""
    files = replay_files()
    assert len([f for f in files if f.parent.name == "entra"]) >= 20, "the Entra replay corpus is missing"
    assert len([f for f in files if f.parent.name == "okta"]) >= 3, "the Okta replay corpus is missing"
    for path in files:
        replay = json.loads(path.read_text())
        assert set(replay) <= _FILE_KEYS and {"name", "source", "dialect", "steps"} <= set(replay), path.name
        assert replay["dialect"] in DIALECTS, path.name
        for step in replay["steps"]:
            assert set(step) <= _STEP_KEYS and {"method", "path", "expect"} <= set(step), (path.name, step)
            assert set(step["expect"]) <= _EXPECT_KEYS and "status" in step["expect"], (path.name, step)


@pytest.mark.parametrize("path", replay_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_replay(path: Path, live: LiveServer) -> None:
    """The server answers a client's traffic as the client expects, step by step, in each dialect given."""
    replay = json.loads(path.read_text())
    for dialect in DIALECTS[replay["dialect"]]:
        _run(replay, dialect, live)


def _run(replay: dict[str, Any], dialect: str, live: LiveServer) -> None:
    base = replay.get("base", TENANT_PATH)
    run = Run({"run": uuid.uuid4().hex[:10], "guid": str(uuid.uuid4()), "guid2": str(uuid.uuid4())})
    run.values["base"] = live.url + base
    with live.client(base=base) as client:
        for index, step in enumerate(replay["steps"]):
            where = f"[{dialect}] step {index} {step.get('name', '')!r}: {step['method']} {step['path']}"
            response = _send(client, run, step, dialect)
            _check(response, run.fill(step["expect"]), where)
            if "save" in step:
                run.values[step["save"]] = response.json()


def _send(client: httpx.Client, run: Run, step: dict[str, Any], dialect: str) -> httpx.Response:
    path = run.fill(step["path"])
    if dialect == FLAG:
        path += ("&" if "?" in path else "?") + FLAG
    headers = {"Content-Type": "application/scim+json", **step.get("headers", {})}
    content = json.dumps(run.fill(step["body"])) if "body" in step else None
    return client.request(step["method"], path, content=content, headers=headers if content else None)


def _check(response: httpx.Response, expect: dict[str, Any], where: str) -> None:
    assert response.status_code == expect["status"], f"{where}: {response.status_code} {response.text}"
    assert response.elapsed.total_seconds() < SLOW, f"{where}: took {response.elapsed}"
    if not response.content:
        assert "body" not in expect, f"{where}: no body, expected one"
        return
    assert response.headers["content-type"].startswith("application/scim+json"), where
    body = response.json()
    expected = expect.get("body")
    for key in expect.get("unordered", ()):  # members come back ordered by id, not as added
        for side in (body, expected or {}):
            if isinstance(side.get(key), list):
                side[key] = sorted(side[key], key=lambda item: json.dumps(item.get("value")))
    match = expect.get("match", "subset")
    if expected is not None:
        if match == "exact":
            assert body == expected, f"{where}: body differs\n{body}"
        elif match == "attributes":
            for key, value in expected.items():
                assert body.get(key) == value, f"{where}: {key} is {body.get(key)!r}, sent {value!r}"
        else:
            _assert_subset(body, expected, f"{where}: body")
    for path in expect.get("absent", ()):
        *heads, last = path.split("/")
        node = _at(body, heads)
        assert last not in node, f"{where}: {path} should be absent\n{body}"
    for path, kind in expect.get("types", {}).items():
        value = _at(body, path.split("/"))
        assert type(value) is _JSON_TYPES[kind], f"{where}: {path} is {value!r}, not a JSON {kind}"
    for text in expect.get("detail_contains", ()):
        assert text in body.get("detail", ""), f"{where}: detail lacks {text!r}: {body.get('detail')!r}"


def _at(body: Any, keys: list[str]) -> Any:
    """Return the value at ``keys`` in ``body``: object keys, or list indexes."""
    node = body
    for key in keys:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _assert_subset(actual: Any, expected: Any, where: str) -> None:
    """Check that ``expected`` is in ``actual``: keys of objects, lists element by element."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is no object"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} is missing from {actual!r}"
            _assert_subset(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{where}: {actual!r} != {expected!r}"
        )
        for index, (got, wanted) in enumerate(zip(actual, expected, strict=True)):
            _assert_subset(got, wanted, f"{where}[{index}]")
    else:
        assert actual == expected and type(actual) is type(expected), f"{where}: {actual!r} != {expected!r}"
