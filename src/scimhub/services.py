"""What the adapters serve with: the use cases and the store's contract, never an implementation.

``wiring.build`` makes the one implementation (on SQLAlchemy); ``web/`` and ``cli/`` see it through
this protocol, so nothing they do can reach past the ``Store`` contract (docs/architecture.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from scimhub.datahub.pusher import Pusher
from scimhub.datahub.status import PushStatus
from scimhub.directory.accounts import Accounts
from scimhub.directory.groups import Groups
from scimhub.directory.lockout import Lockout
from scimhub.directory.resets import PasswordResets
from scimhub.directory.roles import Roles
from scimhub.directory.sessions import Sessions
from scimhub.directory.tokens import Tokens
from scimhub.directory.users import Users
from scimhub.feed.audit import Audit
from scimhub.feed.longpoll import Watch
from scimhub.feed.pages import EventFeed
from scimhub.scim.handler import ScimHandler
from scimhub.settings import Settings
from scimhub.store.contract import CommitNotifier, Store


class Services(Protocol):
    """Everything a process serves with."""

    @property
    def work_on_loop(self) -> bool:
        """Whether a request runs on the event loop when it would not wait there (ADR 0046, 0055, 0058)."""

    @property
    def settings(self) -> Settings:
        """The configuration."""

    @property
    def store(self) -> Store:
        """The database, by its contract."""

    @property
    def commits(self) -> CommitNotifier:
        """Who tells this process's listeners of its commits (the store)."""

    @property
    def users(self) -> Users:
        """The user use cases."""

    @property
    def groups(self) -> Groups:
        """The group use cases."""

    @property
    def roles(self) -> Roles:
        """The role use cases."""

    @property
    def tokens(self) -> Tokens:
        """The access-token use cases."""

    @property
    def scim(self) -> ScimHandler:
        """The SCIM protocol handler."""

    @property
    def accounts(self) -> Accounts:
        """The local accounts."""

    @property
    def feed(self) -> EventFeed:
        """The change-event feed."""

    @property
    def audit(self) -> Audit:
        """The audit search over the events."""

    @property
    def sessions(self) -> Sessions:
        """The console's sessions (ADR 0030)."""

    @property
    def lockout(self) -> Lockout:
        """The console's sign-in lock-out, counted in the database (ADR 0030, ADR 0048)."""

    @property
    def resets(self) -> PasswordResets:
        """The console's one-time password-reset links (ADR 0033)."""

    @property
    def core(self) -> ThreadPoolExecutor:
        """The threads that run requests in the synchronous core (ADR 0003, ADR 0016)."""

    @property
    def datahub(self) -> Pusher | None:
        """The push into DataHub, when ``SCIMHUB_DATAHUB_GMS_URL`` is set (ADR 0013)."""

    def datahub_status(self) -> PushStatus:
        """Return where the push into DataHub stands, configured here or not."""

    def event_watch(self) -> Watch:
        """Return how this process hears of other processes' commits."""

    def close(self) -> None:
        """Stop the core's threads and release the database connections."""
