"""Configuration, read once from the environment into a frozen ``Settings``.

``Settings.from_environ`` is the only code that reads ``os.environ``; tests pass a
dict. Secrets are wrapped in ``Secret`` so that no repr, log line or traceback
prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///scimhub.db"


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call it only where the value is used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything scimhub can be configured with; each field is ``SCIMHUB_<FIELD>``."""

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``."""
    database_answer_seconds: float = 60.0
    """How long the server waits for a PostgreSQL that sends nothing (stopped, stuck, cut off) before
    the request gets a 503 and the connection is dropped; 0 waits for ever (ADR 0090). Past
    PostgreSQL's own bounds: a search's 10 s, a lock's 10 s."""
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None
    """Absolute URL clients reach the server at (for ``meta.location``); else taken from the request."""
    max_page_size: int = 1000
    """The most resources one list response carries (advertised as ``filter.maxResults``)."""
    default_page_size: int = 100
    max_body_bytes: int = 1_048_576
    """Larger request bodies get 413."""
    max_patch_operations: int = 1000
    bulk_max_operations: int = 1000
    """The most operations one SCIM ``/Bulk`` request may hold (``bulk.maxOperations``); more get 413,
    and 0 turns Bulk off (ADR 0034)."""
    bulk_max_payload_bytes: int = 1_048_576
    """The largest SCIM ``/Bulk`` body (``bulk.maxPayloadSize``); larger gets 413 before it is read whole."""
    bulk_timeout_seconds: float = 30.0
    """How long one ``/Bulk`` request may run: operations not started by then answer 503 (ADR 0034)."""
    cursor_timeout_seconds: int = 600
    """How long a SCIM paging cursor stays valid (RFC 9865 ``cursorTimeout``; ADR 0035)."""
    token_signing_key: Secret | None = None
    """HS256 key for personal access tokens; generated once and kept in the database if unset."""
    token_salt: Secret | None = None
    """Salt for token hashes; generated once and kept in the database if unset."""
    admin_password: Secret | None = None
    event_retention_days: int = 30
    """Change events older than this many days are pruned (``scimhub events prune``, and hourly by
    ``serve``); 0 keeps every event. A consumer whose offset falls behind it gets a 400."""
    datahub_gms_url: str | None = None
    """DataHub GMS base URL (``http://datahub-gms:8080``, or a frontend's ``https://…/api/gms``);
    setting it turns on the push of users and groups into DataHub (ADR 0013)."""
    datahub_token: Secret | None = None
    """Personal access token the push authenticates to GMS with."""
    datahub_external_type: str = "SCIM_client_{externalId}"
    """``origin.externalType`` of every pushed user and group; ``{externalId}`` becomes the entity's
    externalId (``null`` without one), as DataHub's own SCIM server writes it."""
    datahub_timeout_seconds: int = 10
    """How long one request to GMS may take before it counts as failed and is retried."""
    # Serving: connections, timeouts and proxies (issue 11, ADR 0022).
    trusted_proxies: str = ""
    """Comma-separated addresses or CIDR networks of the reverse proxies in front of scimhub. Only a
    connection from one of them has its ``X-Forwarded-For``/``X-Forwarded-Proto`` and ``X-Request-ID``
    believed; default: none, so no client can forge its address, scheme or request id."""
    max_connections: int = 2048
    """Open connections one process keeps (never more than its descriptor limit allows); past it, the
    longest-idle connection that is serving no request is closed to make room."""
    keep_alive_seconds: int = 5
    """How long an idle keep-alive connection stays open between requests (behind a proxy: longer
    than the proxy's own idle timeout)."""
    head_timeout_seconds: int = 10
    """How long a client may take to send a request's line and headers: 408, or a silent close
    when it sent nothing."""
    body_timeout_seconds: int = 30
    """How long a client may take to send a request's body, from the end of its headers: 408."""
    log_level: str = "info"
    workers: int = 1
    threads: int | None = None
    """Threads per process that run requests in the synchronous core (ADR 0016): more only
    overlap database waits, fewer contend less for the GIL. Default: 1 on SQLite, whose
    queries never wait on a network; 4 on PostgreSQL."""
    # Abuse and overload (ADR 0023, defaults ADR 0065): token buckets per process; 0 turns one off.
    rate_limit_per_token: int = 5000
    """Requests per second one bearer token may sustain, per process; beyond it, 429 + Retry-After."""
    rate_limit_per_token_burst: int = 50000
    """Requests one bearer token may send at once above its rate (the bucket's size)."""
    rate_limit_per_address: int = 10000
    """Requests per second one client address (an IPv6 /64) may sustain, per process."""
    rate_limit_per_address_burst: int = 100000
    auth_failure_limit: int = 20
    """Refused tokens one address may present per ``auth_failure_window_seconds`` before its requests
    get 429 (a token-guessing defence); a success from the address forgets its failures."""
    auth_failure_window_seconds: int = 60
    # Metrics (ADR 0024).
    metrics_token: Secret | None = None
    """Bearer token ``/metrics`` asks for; unset, ``/metrics`` answers only direct loopback clients."""

    # Secrets in production (ADR 0027). Every Secret field can also be read from a file named by
    # SCIMHUB_<FIELD>_FILE (Docker and Kubernetes secrets), never both.
    env: str = "development"
    """``production`` refuses to start unless ``token_signing_key`` and ``token_salt`` are configured
    (from the environment or a file), so that no key is generated into, or read from, the database;
    ``development`` (the default) generates them once into the database when unset."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Build settings from ``SCIMHUB_*`` variables, then apply non-None ``overrides``.

        :raises ValueError: When a variable cannot be read as its field's type.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"SCIMHUB_{f.name.upper()}")
            if str(f.type).startswith("Secret"):
                raw = _secret_from_file(f.name, raw, environ)
            if raw is not None and raw != "":
                values[f.name] = _cast(f.name, f.type, raw)
        settings = cls(**values)
        _check_env(settings.env)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _cast(name: str, annotation: object, raw: str) -> Any:
    kind = str(annotation)
    if kind.startswith("int"):
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"SCIMHUB_{name.upper()} must be a whole number, not {raw!r}") from None
        if value < 0:
            raise ValueError(f"SCIMHUB_{name.upper()} must not be negative")
        return value
    if kind.startswith("float"):
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"SCIMHUB_{name.upper()} must be a number of seconds, not {raw!r}") from None
        if not number >= 0 or number == float("inf"):  # also refuses NaN
            raise ValueError(f"SCIMHUB_{name.upper()} must be a finite number, not negative")
        return number
    if kind.startswith("Secret"):
        return Secret(raw)
    return raw


ENVIRONMENTS = ("development", "production")
"""The values of ``SCIMHUB_ENV`` (ADR 0027)."""


def _secret_from_file(name: str, raw: str | None, environ: Mapping[str, str]) -> str | None:
    """Return the secret ``SCIMHUB_<NAME>``, or the contents of the file ``SCIMHUB_<NAME>_FILE`` names.

    One trailing line break is dropped: ``echo key > file`` and most secret stores add one.

    :raises ValueError: When both are set, or the file cannot be read or is empty.
    """
    variable = f"SCIMHUB_{name.upper()}"
    path = environ.get(f"{variable}_FILE")
    if not path:
        return raw
    if raw:
        raise ValueError(f"set {variable} or {variable}_FILE, not both")
    try:
        with open(path, encoding="utf-8") as file:
            value = file.read().removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise ValueError(f"{variable}_FILE={path} cannot be read: {reason}") from None
    if not value:
        raise ValueError(f"{variable}_FILE={path} is empty")
    return value


def _check_env(env: str) -> None:
    if env not in ENVIRONMENTS:
        raise ValueError(f"SCIMHUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
