"""No log line carries a token: the live server's whole output is searched after good and bad requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_token_secrecy import secret_forms
from tests.integration.conftest import SCIM, running_server, scimhub

SUSPEND = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}


def issue(database_url: str, name: str, *options: str) -> str:
    """Return a new token from `scimhub token create` (its last line)."""
    return scimhub(
        "token", "create", "--name", name, *options, database_url=database_url
    ).stdout.splitlines()[-1]


def token_id(database_url: str, name: str) -> str:
    """Return the id of the token called ``name``, from `scimhub token list --json`."""
    listed = json.loads(scimhub("token", "list", "--json", database_url=database_url).stdout)
    return str(next(item["id"] for item in listed if item["name"] == name))


def forge(token: str) -> str:
    """Return the token with its signature's last character changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def status(http: httpx.Client, method: str, path: str, credential: str | None, **options: Any) -> int:
    """Return the status of a request sent with ``credential`` as its Authorization header."""
    headers = {"Authorization": credential} if credential else {}
    return http.request(method, path, headers=headers, **options).status_code


@pytest.mark.parametrize("log_level", ["info", "debug"])
def test_no_log_line_carries_a_token(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_level: str
) -> None:
    """Accepted, forged, cut, misplaced, revoked and suspended-user tokens never reach the log."""
    token, revoked = issue(database_url, "used"), issue(database_url, "revoked")
    monkeypatch.setenv("SCIMHUB_LOG_LEVEL", log_level)
    log = tmp_path / "serve.log"
    with running_server(database_url, log) as (process, url):
        with httpx.Client(base_url=url + SCIM, timeout=30) as http:
            bearer = f"Bearer {token}"
            bot = http.post(
                "/Users",
                json={"userName": "bot", "roles": [{"value": "Admin"}]},
                headers={"Authorization": bearer},
            )
            bot_token = issue(database_url, "bot", "--user", "bot")
            statuses = [
                status(http, "GET", "/Users", bearer),
                status(http, "GET", "/Users", f"bearer {token}"),
                status(http, "POST", "/Users", bearer, content=b"{not json"),
                status(http, "GET", "/Nowhere", bearer),
                status(http, "GET", "/Users", f"Bearer {forge(token)}"),
                status(http, "GET", "/Users", f"Bearer {token[: len(token) // 2]}"),
                status(http, "GET", "/Users", f"Basic {token}"),
                status(http, "GET", f"/Users?access_token={token}", None),
                status(http, "GET", "/Users", f"Bearer {revoked}"),
            ]
            scimhub("token", "revoke", token_id(database_url, "revoked"), database_url=database_url)
            statuses += [
                status(http, "GET", "/Users", f"Bearer {revoked}"),
                status(http, "PATCH", f"/Users/{bot.json()['id']}", bearer, json=SUSPEND),
                status(http, "GET", "/Users", f"Bearer {bot_token}"),
                status(http, "GET", url + "/healthz", bearer),
            ]
    assert statuses == [200, 200, 400, 404, 401, 401, 401, 401, 200, 401, 200, 401, 200]
    output = log.read_text()
    assert output.count('"status":401') >= 6, "the requests were not logged: the search would prove nothing"
    listed = scimhub("token", "list", database_url=database_url).stdout
    listed += scimhub("token", "list", "--json", database_url=database_url).stdout
    for secret in (token, revoked, bot_token):
        for form in secret_forms(secret):
            assert form not in output, f"the server log carries {form[:8]}…"
            assert form not in listed, f"`token list` shows {form[:8]}…"
