"""Request ids: one per request, on its response (``X-Request-ID``) and on every log line it causes.

An id is taken from the request's own ``X-Request-ID`` only when the connection
comes from a trusted proxy (``SCIMHUB_TRUSTED_PROXIES``) and the id is
well-formed; anything else gets a fresh one, so that no client can plant text in
the log or pass itself off as another request (ADR 0022). The id lives in
``logs.REQUEST_ID`` for the request's task; ``logs.JsonFormatter`` reads it, and
``web.auth`` carries the context into the core's threads.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re

from starlette.middleware import Middleware
from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

HEADER = b"x-request-id"
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")
"""What a proxy's id may look like: UUIDs, hex, base64, dotted or colon-separated traces; 128 bytes."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Fresh ids need to be unique, not secret: a generator seeded from the system's randomness once per
# process (and again in a forked child) draws them without a system call per request (ADR 0042).
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


class TrustedProxies:
    """The addresses whose forwarding headers and request ids are believed."""

    def __init__(self, spec: str) -> None:
        """Read ``spec``, comma-separated addresses or CIDR networks ("" trusts no one).

        :raises ValueError: When an entry is neither, naming the variable and the entry.
        """
        self.entries = tuple(entry.strip() for entry in spec.split(",") if entry.strip())
        networks: list[Network] = []
        for entry in self.entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"SCIMHUB_TRUSTED_PROXIES: {entry!r} is neither an IP address nor a CIDR network"
                ) from None
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, host: object) -> bool:
        if not self._networks or not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # a Unix socket's peer, or a test client's made-up name
            return False
        return any(address in network for network in self._networks)

    def middleware(self) -> list[Middleware]:
        """Return uvicorn's X-Forwarded-For/Proto middleware trusting these proxies (none for no one).

        It runs inside the access log, which so sees the connection's own peer when
        it decides whether to believe a request id.
        """
        if not self:
            return []
        return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(self.entries))]


def request_id(scope: Scope, trusted: TrustedProxies) -> str:
    """Return the id of the request in ``scope``: its trusted proxy's, if well-formed, else a fresh one."""
    if trusted:
        client = scope.get("client")
        if client and client[0] in trusted:
            for name, value in scope["headers"]:
                if name == HEADER and _WELL_FORMED.fullmatch(value):
                    return value.decode("ascii")
    return f"{_ids.getrandbits(96):024x}"
