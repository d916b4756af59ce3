"""Token checks are constant-time: an HMAC compared with ``hmac.compare_digest``, then a digest lookup.

A bearer token is checked in two steps (``Tokens.authenticate``). First PyJWT
verifies the HS256 signature by recomputing the HMAC and comparing it with
``hmac.compare_digest`` (``jwt.algorithms.HMACAlgorithm.verify``), so the time
taken does not depend on how many leading bytes of a forged signature are right.
Then the store is asked for ``base64(sha256(token ‖ salt))``: an index lookup on a
digest, whose timing can only leak a prefix of the digest, which tells nothing
about the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from scimhub.directory.actors import SYSTEM
from scimhub.directory.tokens import TokenKeys
from scimhub.directory.users import UserRef
from scimhub.domain.tokens import hash_token
from scimhub.errors import Unauthorized
from scimhub.wiring import Services


def issue(hub: Services) -> str:
    hub.accounts.ensure_admin("a long enough password")
    issued, _ = hub.tokens.issue(SYSTEM, UserRef.by_name("admin"), "timing")
    return issued.token


def spy_on_compare_digest(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def test_authentication_compares_the_signature_with_compare_digest(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid token's HS256 signature is checked by hmac.compare_digest, on the raw 32-byte MACs."""
    token = issue(hub)
    calls = spy_on_compare_digest(monkeypatch)
    hub.tokens.authenticate(token)
    signature = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
    assert (signature, signature) in calls


def test_a_forged_signature_is_refused_by_compare_digest(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token whose last signature byte differs is refused after one compare_digest, before any lookup."""
    token = issue(hub)
    head, signature = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1
    forged = head + "." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    calls = spy_on_compare_digest(monkeypatch)
    monkeypatch.setattr(hub.store, "credential", lambda _: pytest.fail("a forged token reached the database"))
    with pytest.raises(Unauthorized):
        hub.tokens.authenticate(forged)
    assert [(a, len(b)) for a, b in calls] == [(bytes(raw), 32)]


def test_the_stored_token_is_looked_up_by_its_sha256_digest(
    hub: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is searched by base64(sha256(token ‖ salt)), the only form it keeps."""
    token = issue(hub)
    salt = TokenKeys.load(hub.store, None, None).salt  # the stored salt: the suite configures none
    digest = base64.b64encode(hashlib.sha256(token.encode() + salt).digest()).decode()
    assert hash_token(token, salt) == digest
    searched: list[str] = []
    real_credential = hub.store.credential

    def spy(hash: str) -> Any:
        searched.append(hash)
        return real_credential(hash)

    monkeypatch.setattr(hub.store, "credential", spy)
    hub.tokens.authenticate(token)
    assert searched == [digest]
    assert token not in searched[0]
