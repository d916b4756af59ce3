"""The composition root: settings → engine, store, use cases, the SCIM handler and the application.

Every piece is built here, explicitly, once per process; nothing else constructs
services or reads configuration. The adapters see what it builds as ``services.Services``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine, make_url
from starlette.applications import Starlette

from scimhub.collector import tune_for_serving
from scimhub.datahub.emitter import EmitterSink
from scimhub.datahub.pusher import Pusher, PushOptions
from scimhub.datahub.status import PushStatus, read_status
from scimhub.directory.accounts import ADMIN_USER_NAME, Accounts
from scimhub.directory.groups import Groups
from scimhub.directory.lockout import Lockout
from scimhub.directory.resets import PasswordResets
from scimhub.directory.roles import Roles
from scimhub.directory.sessions import Sessions
from scimhub.directory.tokens import TokenKeys, Tokens
from scimhub.directory.users import Users
from scimhub.domain.users import user_urn
from scimhub.feed.audit import Audit
from scimhub.feed.longpoll import Watch, watch_head
from scimhub.feed.pages import EventFeed
from scimhub.logs import configure_logging
from scimhub.scim.cursors import Cursors, cursor_key
from scimhub.scim.handler import ScimHandler
from scimhub.settings import Settings
from scimhub.store.contract import CommitNotifier
from scimhub.store.sql import migrate
from scimhub.store.sql.engine import bound_answers, make_engine, unavailable, watch_pool
from scimhub.store.sql.notify import listen_for_commits
from scimhub.store.sql.store import SqlStore
from scimhub.web.app import SCIM_PREFIXES, create_app
from scimhub.web.connections import GuardedHttpToolsProtocol
from scimhub.web.metrics import POOL_CHECKED_OUT, POOL_SIZE


def now_micros() -> int:
    """Return the wall-clock time in microseconds since the epoch."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Services:
    """Everything a process serves with, on SQLAlchemy (the adapters see ``services.Services``)."""

    settings: Settings
    engine: Engine
    store: SqlStore
    users: Users
    groups: Groups
    roles: Roles
    tokens: Tokens
    scim: ScimHandler
    accounts: Accounts
    feed: EventFeed
    audit: Audit
    sessions: Sessions
    """The console's sessions (ADR 0030)."""
    resets: PasswordResets
    """The console's one-time password-reset links (ADR 0033)."""
    lockout: Lockout
    """The console's sign-in lock-out, counted in the database (ADR 0030, ADR 0048)."""
    core: ThreadPoolExecutor
    """The threads that run requests in the synchronous core (ADR 0003, ADR 0016)."""
    datahub: Pusher | None = None
    """The push into DataHub, when ``SCIMHUB_DATAHUB_GMS_URL`` is set (ADR 0013)."""

    @property
    def work_on_loop(self) -> bool:
        """Whether requests run on the event loop (ADR 0046, 0055, 0056): while the database answers.

        Away, a new connection may take up to its connect timeout: that wait belongs in a core thread.
        """
        return not unavailable(self.engine)

    @property
    def commits(self) -> CommitNotifier:
        """Who tells this process's listeners of its commits: the store."""
        return self.store

    def datahub_status(self) -> PushStatus:
        """Return where the push into DataHub stands, configured here or not."""
        if self.datahub is not None:
            return self.datahub.status()
        return read_status(self.store, PushOptions.name, False, now_micros())

    def close(self) -> None:
        """Stop the core's threads and release the database connections."""
        self.core.shutdown(wait=False)
        self.store.close()
        self.engine.dispose()

    def event_watch(self) -> Watch:
        """Return how this process hears of other processes' commits: LISTEN on PostgreSQL, else polling."""
        if self.engine.dialect.name == "postgresql":
            return lambda notifier: listen_for_commits(self.engine, notifier, self.feed.head)
        return watch_head(self.feed.head)


def build(settings: Settings, *, upgrade: bool = True) -> Services:
    """Return the services for ``settings``, migrating the database first when ``upgrade``."""
    signing_key, salt = (s.reveal() if s else None for s in (settings.token_signing_key, settings.token_salt))
    # Production takes its keys from the configuration alone, and refuses before connecting (ADR 0027).
    configured = TokenKeys.configured(signing_key, salt) if settings.env == "production" else None
    sqlite = make_url(settings.database_url).get_backend_name() == "sqlite"
    threads = settings.threads or (1 if sqlite else 4)
    engine = make_engine(settings.database_url, threads=threads)
    watch_pool(engine, POOL_SIZE.set, POOL_CHECKED_OUT.inc, POOL_CHECKED_OUT.dec)
    if upgrade:
        migrate.upgrade(engine)
    if settings.database_answer_seconds:  # after the migration, which may rightly take longer
        bound_answers(engine, settings.database_answer_seconds)
    # One process overlaps its own requests' waits; several overlap each other's, and the greenlet's
    # cost would buy nothing (ADR 0066: two such processes served a quarter fewer requests).
    store = SqlStore(engine, interleave=settings.workers <= 1)
    users = Users(store, now_micros)
    groups = Groups(store, now_micros)
    keys = configured or TokenKeys.load(store, signing_key, salt)
    tokens = Tokens(store, now_micros, keys)
    # Derived from the token signing key, which every process shares: a cursor from one serves on all.
    cursors = Cursors(cursor_key(keys.signing_key), settings.cursor_timeout_seconds)
    handler = ScimHandler(users, groups, settings, cursors=cursors)
    roles, accounts = Roles(store, now_micros), Accounts(store, now_micros, users)
    feed = EventFeed(store, now_micros, settings.event_retention_days)
    datahub = _datahub(settings, store)
    core = ThreadPoolExecutor(threads, thread_name_prefix="scimhub-core")
    return Services(
        settings,
        engine,
        store,
        users,
        groups,
        roles,
        tokens,
        handler,
        accounts,
        feed,
        Audit(store),
        Sessions(store, now_micros, accounts),
        PasswordResets(store, now_micros),
        Lockout(store, now_micros, keys.salt),
        core,
        datahub,
    )


def _datahub(settings: Settings, store: SqlStore) -> Pusher | None:
    """Return the push into DataHub, or None when no GMS URL is configured.

    The sink is made on first use, so a missing SDK is reported by the push, not by start-up.
    """
    if not settings.datahub_gms_url:
        return None
    url, token, timeout = settings.datahub_gms_url, settings.datahub_token, settings.datahub_timeout_seconds
    sink = partial(EmitterSink, url, token, timeout)
    options = PushOptions(origin=settings.datahub_external_type, skip=frozenset({user_urn(ADMIN_USER_NAME)}))
    return Pusher(store, sink, now_micros, options)


def app_from_environ() -> Starlette:
    """Return the application configured from ``SCIMHUB_*`` (uvicorn's factory for workers).

    A worker process starts afresh: it sets up the JSON logging and its
    connections' limits itself, as ``scimhub serve`` does for one process.
    """
    settings = Settings.from_environ(os.environ)
    configure_logging(settings.log_level)
    GuardedHttpToolsProtocol.configure(settings, SCIM_PREFIXES)
    app = create_app(build(settings, upgrade=False))
    tune_for_serving()
    return app
