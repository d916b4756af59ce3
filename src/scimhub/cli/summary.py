"""What ``scimhub serve`` prints before its JSON log lines: where Entra connects, and what is set up."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from scimhub.cli.database import shown
from scimhub.datahub.status import PushStatus
from scimhub.directory.actors import SYSTEM
from scimhub.directory.tokens import TokenView
from scimhub.settings import Settings
from scimhub.web.app import SCIM_PREFIXES
from scimhub.wiring import Services


def scimhub_version() -> str:
    """Return the installed scimhub's version (``unknown`` when run from a tree that was not installed)."""
    try:
        return version("scimhub")
    except PackageNotFoundError:
        return "unknown"


def tenant_url(config: Settings) -> str:
    """Return the SCIM base Entra's *Tenant URL* takes: the public base URL when set, else host and port."""
    base = config.public_base_url or f"http://{config.host}:{config.port}"
    return f"{base.rstrip('/')}{SCIM_PREFIXES[0]}"


def tokens_line(views: list[TokenView], now: int) -> str:
    """Return how many tokens can be used now, or what to run when none can."""
    usable = [v for v in views if v.record.expires is None or v.record.expires > now]
    if not usable:
        return (
            "none that works yet: run `scimhub token create --name entra` (prints the Secret Token"
            " on its last line)"
        )
    newest = max(usable, key=lambda v: v.record.created)
    return f"{len(usable)} usable (newest: {newest.record.name!r}, acting as {newest.actor_urn})"


def push_line(status: PushStatus) -> str:
    """Return the DataHub push's state in a few words."""
    if not status.enabled:
        return "off (set SCIMHUB_DATAHUB_GMS_URL to push users and groups into DataHub)"
    words = f"{status.state}, {status.lag} event(s) behind"
    return f"{words}; last error: {status.last_error}" if status.last_error else words


def startup_summary(services: Services, now: int) -> list[str]:
    """Return the lines ``serve`` prints for a person before it starts: URL, database, tokens, push."""
    config = services.settings
    rows = (
        ("Tenant URL", tenant_url(config)),
        ("Database", shown(config.database_url)),
        ("Access tokens", tokens_line(services.tokens.list(SYSTEM), now)),
        ("DataHub push", push_line(services.datahub_status())),
    )
    return [f"scimhub {scimhub_version()}", *(f"  {label + ':':<15}{value}" for label, value in rows)]
