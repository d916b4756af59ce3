"""The Entity Events API over HTTP: ``GET /openapi/v1/events/poll``, also under ``/gms``.

Every read of the feed is one thread hop that authenticates the bearer token and
reads a page (``call_as_bearer``, ADR 0003). A long poll that found nothing
waits on this process's ``Notifier`` (``feed/longpoll.py``), on the event loop,
holding no thread and no connection, and reads again when a commit is heard.
``LongPolls`` starts and stops, with the application, what feeds the notifier and
the hourly pruning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.directory.actors import Actor
from scimhub.errors import ScimhubError
from scimhub.feed.longpoll import Notifier
from scimhub.feed.pages import FeedPage
from scimhub.feed.requests import PollRequest, read_poll_request
from scimhub.feed.wire import poll_response
from scimhub.services import Services
from scimhub.statuses import ErrorStatus, classify
from scimhub.web.auth import call_as_bearer

log = logging.getLogger("scimhub.feed")

POLL_PATHS = ("/openapi/v1/events/poll", "/gms/openapi/v1/events/poll")
"""DataHub's path (its consumer appends it to ``<server>/openapi``), bare and behind the ``/gms`` prefix."""
PRUNE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class _Read:
    wanted: PollRequest
    page: FeedPage


Outcome = _Read | ErrorStatus
"""A page read for a poll, or why the poll is refused."""


class LongPolls:
    """Run a process's long-poll machinery: the notifier, what feeds it, and the pruning timer."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._tasks: list[asyncio.Task[None]] = []
        self.notifier: Notifier | None = None
        """Set while the application runs."""
        self._stop_hearing: Callable[[], None] = lambda: None

    async def start(self) -> None:
        """Hear this process's commits at once, other processes' through the database, and prune hourly."""
        notifier = Notifier(asyncio.get_running_loop())
        self._stop_hearing = self._services.commits.on_commit(notifier.advance_threadsafe)
        self._tasks = [
            asyncio.create_task(self._services.event_watch()(notifier)),
            asyncio.create_task(_prune_every(self._services, PRUNE_INTERVAL_SECONDS)),
        ]
        self.notifier = notifier

    def drain(self) -> None:
        """Answer every waiting long poll now with what it has (nothing new), and any later one at once."""
        if self.notifier is not None:
            self.notifier.close()

    async def stop(self) -> None:
        """Stop the tasks and stop hearing commits."""
        self._stop_hearing()
        self._stop_hearing = lambda: None
        self.notifier = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


async def _prune_every(services: Services, interval: float) -> None:
    while True:
        try:
            pruned = await asyncio.to_thread(services.feed.prune)
        except Exception:  # noqa: BLE001 - pruning again in an hour is the best we can do
            log.exception("pruning the event feed failed")
        else:
            if pruned:
                log.info("pruned %d change events older than %d days", pruned, services.feed.retention_days)
        await asyncio.sleep(interval)


def feed_routes(services: Services, polls: LongPolls) -> list[Route]:
    """Return the poll endpoint under each of ``POLL_PATHS``."""

    async def poll(request: Request) -> Response:
        query = dict(request.query_params)
        outcome = await _read(request, services, query, None)
        if isinstance(outcome, _Read) and not outcome.page.events and outcome.wanted.timeout:
            outcome = await _long_poll(request, services, query, outcome, polls.notifier)
        return _render(outcome)

    return [Route(path, poll, methods=["GET"]) for path in POLL_PATHS]


async def _long_poll(
    request: Request, services: Services, query: dict[str, str], first: _Read, notifier: Notifier | None
) -> Outcome:
    """Read again whenever a commit beyond the page's position is heard, until events come or time is up."""
    if notifier is None:  # the application's lifespan did not run: no one to hear commits
        return first
    loop = asyncio.get_running_loop()
    deadline, heard = loop.time() + first.wanted.timeout, 0
    outcome: Outcome = first
    while isinstance(outcome, _Read) and not outcome.page.events:
        # Wait beyond what was already heard, too: a wake-up that found nothing must not spin.
        if not await notifier.wait_beyond(max(outcome.page.after, heard), deadline - loop.time()):
            break
        heard = notifier.head
        outcome = await _read(request, services, query, outcome.page.after)
    return outcome


async def _read(request: Request, services: Services, query: dict[str, str], resume: int | None) -> Outcome:
    """Authenticate and read one page, in one thread hop; return the page or the refusal."""

    def work(actor: Actor) -> Outcome:
        try:
            wanted = read_poll_request(query)
            return _Read(wanted, services.feed.poll(actor, wanted, resume))
        except Exception as error:  # noqa: BLE001 - classify decides what leaks
            return _refusal(error)

    refuse: Callable[[ScimhubError], Outcome] = _refusal
    return await call_as_bearer(request, services, work, refuse)


def _refusal(error: Exception) -> ErrorStatus:
    return classify(error, log)


def _render(outcome: Outcome) -> Response:
    body: dict[str, Any]
    if isinstance(outcome, ErrorStatus):
        body = {"status": outcome.status, "error": outcome.kind, "detail": outcome.detail}
        return _json(body, outcome.status, outcome.headers)
    page = outcome.page
    return _json(poll_response(page.offset, [e.event for e in page.events]), 200, {})


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
