"""Bearer credentials (RFC 6750 §2.1), and the one thread hop that checks them and does the work.

ADR 0003: the web layer enters the synchronous core once per request. SCIM, the
JSON API and the events poll all go through ``call_as_bearer``, which
authenticates the token *and* runs the operation on the event loop itself whenever
it would not wait there (ADR 0046, 0055, 0056), else in the same thread of the
core's own small pool (ADR 0016: a few threads contend less for the GIL than
Starlette's forty).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import copy_context
from functools import partial
from typing import TypeVar

from starlette.requests import Request

from scimhub.directory.actors import Actor
from scimhub.directory.tokens import Tokens, Verified
from scimhub.errors import ScimhubError, ServiceUnavailable, Unauthorized
from scimhub.services import Services
from scimhub.store.contract import CredentialChanged, LoopWork, Store, WouldWait

R = TypeVar("R")
T = TypeVar("T")

NO_TOKEN = "this endpoint needs an Authorization: Bearer <personal access token> header"


def bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None.

    The scheme is case-insensitive (RFC 9110 §11.1); anything else (no header,
    another scheme, an empty token) is no token at all. So are two ``Authorization`` headers: the
    field is a singleton, and a proxy that read the last one must not see a request another
    credential authenticated here.
    """
    headers = request.headers.getlist("authorization")
    if len(headers) != 1:
        return None
    scheme, _, token = headers[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def call_as_bearer(
    request: Request,
    services: Services,
    work: Callable[[Actor], R],
    refuse: Callable[[ScimhubError], R],
    *,
    writes_once: bool = True,
) -> R:
    """Authenticate the request's bearer token, then run ``work`` as its actor, in at most one thread hop.

    While ``services.work_on_loop`` (the database answers; ADR 0046, 0055, 0056) the request runs on
    the event loop itself (on PostgreSQL, in one process, in a greenlet whose waits for the server
    let the loop serve others: ``Store.cooperate``, ADR 0066), unless it would hold the loop: a
    token due its ``last_used`` write, a password to hash, or a first write that would wait for a
    lock (``WouldWait``, with nothing written: on SQLite when the write lock is taken, on
    PostgreSQL when a lock is not had within ``LOOP_LOCK_WAIT_MS``, ADR 0058) sends it to one of the
    core's threads, where everything else runs (ADR 0003, ADR 0016). ``refuse`` renders an
    authentication failure. Work that may write more than once (``writes_once=False``: a bulk
    request) goes to a core thread from the start: after its first commit it could no longer move.
    On PostgreSQL a credential may be answered from memory, and is checked in the round trip of the
    work's first read (ADR 0083) and with each write's commit (ADR 0084); work sent to a core thread
    is authenticated there again, and checked so there too, whether it came from the loop or the
    database was away (ADR 0086). A bulk request alone runs outside any check, its credential read
    first. The actor's id is left in the request's state for the access log
    (an id, never the token), and a failure's reason as ``auth_failure`` for the metrics and the
    failure throttle (``web/ratelimit.py``, ADR 0023).
    """
    token = bearer_token(request)
    tokens = services.tokens
    outcome: tuple[R, str | None, str | None] | None = None
    on_the_loop = writes_once and services.work_on_loop
    if on_the_loop:
        store = services.store
        on_loop, outcome = await store.cooperate(_on_loop, store, tokens, token, work, refuse)
        if outcome is not None:
            try:  # on SQLite its writes commit after the loop's turn, with the turn's others (ADR 0061)
                await on_loop.committed()
            except ScimhubError as error:
                outcome = (refuse(error), outcome[1], None)
    if outcome is None:
        run: Callable[[], tuple[R, str | None, str | None]]
        run = partial(_authenticate_then, tokens, token, work, refuse)
        if writes_once:  # authenticated and checked there again: it may wait there (ADR 0084, 0086)
            # The database away, nothing this process kept is answered: as before the outage.
            runs = CHECKED_RUNS if on_the_loop else READ_FIRST_RUNS
            run = partial(_checking, services.store, run, partial(_unsettled, refuse), runs)
        # else a bulk request: outside any check, its credential read first (ADR 0084)
        outcome = await _hop(services, run)
    result, actor_id, failure = outcome
    state = request.scope.setdefault("state", {})
    state["actor"] = actor_id
    if failure is not None:
        state["auth_failure"] = failure
    return result


async def _hop(services: Services, function: Callable[..., T], *args: object) -> T:
    """Run ``function(*args)`` in a core thread, in the request's context (for its request id)."""
    return await asyncio.get_running_loop().run_in_executor(
        services.core, copy_context().run, function, *args
    )


OnLoop = tuple[LoopWork, tuple[R, str | None, str | None] | None]


def _on_loop(
    store: Store,
    tokens: Tokens,
    token: str | None,
    work: Callable[[Actor], R],
    refuse: Callable[[ScimhubError], R],
) -> OnLoop[R]:
    """Authenticate and run ``work`` on the event loop; without an outcome when it cannot end there.

    The credential may be answered from memory, and checked in the round trip of the work's first
    read and with each write's commit (``Store.checking_credentials``, ADR 0083, 0084). Without an
    outcome when the work would wait, and when the credential changed meanwhile or could not be read
    again at the end: then whatever the work made is dropped (a write is rolled back whole), and it
    runs again in a core thread (``_checking``).
    """
    with store.checking_credentials() as check:
        verified = _verify(tokens, token)
        with store.unwaiting() as on_loop:
            if isinstance(verified, Verified) and verified.touch_due:
                return on_loop, None
            try:
                outcome = _then(verified, work, refuse)
            except (WouldWait, CredentialChanged):  # the latter: unconfirmed
                return on_loop, None
    return on_loop, None if check.unconfirmed else outcome


CHECKED_RUNS = (False, True, True)
"""Each run of a request's work in a core thread, by whether its credential is read first (``fresh``)."""
READ_FIRST_RUNS = (True, True)
"""The runs of a request's work while the database is away: each reads its credential first."""
UNSETTLED = "the bearer token's user or roles changed while the request ran; nothing was written: try again"


def _checking(
    store: Store, attempt: Callable[[], T], unsettled: Callable[[], T], runs: tuple[bool, ...] = CHECKED_RUNS
) -> T:
    """Return what ``attempt`` makes, its credential checked (ADR 0083, 0084, 0086); else ``unsettled()``.

    ``runs`` says, per run, whether it reads its credential first (``fresh``); the first of
    ``CHECKED_RUNS`` may answer it from memory. When it changed meanwhile, or could not be read again
    at the end, what the run made is dropped (a write rolled back whole) and ``attempt`` runs again,
    its credential read first and each of its writes checked apart from its own rows: a
    write that changes its own credential (a userName, a role of one's own) passes so. Never
    unchecked: when each run found the credential changed under it, nothing was written, and
    ``unsettled`` answers.
    """
    for fresh in runs:
        with store.checking_credentials(fresh=fresh) as check:
            try:
                answered = attempt()
            except CredentialChanged:  # the check says so: unconfirmed
                pass
        if not check.unconfirmed:
            return answered
    return unsettled()


def _unsettled(refuse: Callable[[ScimhubError], R]) -> tuple[R, str | None, str | None]:
    return refuse(ServiceUnavailable(UNSETTLED, retry_after=1)), None, None


def _authenticate_then(
    tokens: Tokens, token: str | None, work: Callable[[Actor], R], refuse: Callable[[ScimhubError], R]
) -> tuple[R, str | None, str | None]:
    verified = _verify(tokens, token)
    if isinstance(verified, Verified) and verified.touch_due:
        return _touch_then(tokens, verified, work, refuse)
    return _then(verified, work, refuse)


def _touch_then(
    tokens: Tokens, verified: Verified, work: Callable[[Actor], R], refuse: Callable[[ScimhubError], R]
) -> tuple[R, str | None, str | None]:
    try:
        tokens.touch(verified)
    except ScimhubError as error:  # the database away (503): an answer, not a failed authentication
        return refuse(error), verified.actor.user_id, None
    return _then(verified, work, refuse)


def _verify(tokens: Tokens, token: str | None) -> Verified | ScimhubError:
    try:
        if token is None:
            raise Unauthorized(NO_TOKEN, "missing")
        return tokens.verify(token)
    except ScimhubError as error:
        return error


def _then(
    verified: Verified | ScimhubError, work: Callable[[Actor], R], refuse: Callable[[ScimhubError], R]
) -> tuple[R, str | None, str | None]:
    """Run ``work`` as the verified actor, or render the refusal; with the actor's id and why it failed.

    Only a refused credential failed authentication: the database away while the credential was
    read (a 503) is no guess at a token, and must not close the address to its valid one.
    """
    if isinstance(verified, ScimhubError):
        return refuse(verified), None, verified.reason if isinstance(verified, Unauthorized) else None
    return work(verified.actor), verified.actor.user_id, None
