"""A stand-in for DataHub GMS, served by the test: what the SDK's Rest.li emitter calls, recorded.

DataHub's server cannot run here (docs/datahub.md §8), so the test
serves the part of GMS's REST contract the SDK uses (§7.2, §7.3 item 4): ``GET /config``
with ``noCode: "true"``, ``POST /aspects?action=ingestProposal[Batch]``, ``POST
/entities?action=delete``, and GraphQL ``me``. Every ingest call is recorded in
order, applied to an in-memory copy of the aspects (so a test can compare end
states), and may first be made to fail or hang by queued faults.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ME = "urn:li:corpuser:datahub"


@dataclass(frozen=True)
class Fault:
    """What GMS does instead of, or before, taking one ingest call."""

    status: int | None = None
    """Answer this status and take nothing."""
    delay: float = 0.0
    """Wait this long first (longer than the client's timeout: a timeout; the call is still applied)."""


@dataclass(frozen=True)
class Received:
    """One change GMS took: an upsert of an aspect, or the hard delete of an entity."""

    urn: str
    aspect: str
    """The aspect's name, or ``DELETE``."""
    value: dict[str, Any] | None


@dataclass
class StandInGms:
    """A loopback GMS on a free port; ``url`` is its base URL."""

    token: str = "gms-token"
    config: Any = field(
        default_factory=lambda: {
            "noCode": "true",
            "versions": {"acryldata/datahub": {"version": "v1.7-stand-in"}},
        }
    )
    received: list[Received] = field(default_factory=list)
    """Every change taken, in the order GMS took it."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    """Every request: (method, path)."""
    faults: list[Fault] = field(default_factory=list)
    """Applied one per ingest call, first in first out."""
    aspects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The aspects GMS holds now."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the base URL to give the emitter."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def of(self, urn: str) -> list[tuple[str, dict[str, Any] | None]]:
        """Return what GMS took for one entity, in order: (aspect or DELETE, value)."""
        with self._lock:
            return [(r.aspect, r.value) for r in self.received if r.urn == urn]

    def entities(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return the aspects GMS holds, by URN."""
        found: dict[str, dict[str, dict[str, Any]]] = {}
        with self._lock:
            for (urn, aspect), value in sorted(self.aspects.items()):
                found.setdefault(urn, {})[aspect] = value
        return found

    def ingest_calls(self) -> int:
        """Return how many ingest and delete requests arrived, failed ones included."""
        with self._lock:
            return sum(1 for method, path in self.requests if method == "POST" and "action=" in path)

    def take(self, body: dict[str, Any], path: str) -> None:
        """Apply one ingest or delete request's body."""
        with self._lock:
            if "action=delete" in path:
                urn = body["urn"]
                self.received.append(Received(urn, "DELETE", None))
                for key in [k for k in self.aspects if k[0] == urn]:
                    del self.aspects[key]
                return
            for proposal in body.get("proposals") or [body["proposal"]]:
                value = json.loads(proposal["aspect"]["value"])
                urn, aspect = proposal["entityUrn"], proposal["aspectName"]
                self.received.append(Received(urn, aspect, value))
                self.aspects[(urn, aspect)] = value

    def next_fault(self) -> Fault | None:
        """Return the next queued fault, if any."""
        with self._lock:
            return self.faults.pop(0) if self.faults else None


def _handler(gms: StandInGms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {gms.token}"

        def do_GET(self) -> None:
            gms.requests.append(("GET", self.path))
            if self.path == "/config":
                self._answer(200, gms.config if not isinstance(gms.config, str) else gms.config.encode())
            else:
                self._answer(404, {"message": "not found"})

        def do_POST(self) -> None:
            gms.requests.append(("POST", self.path))
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self._authorized():
                self._answer(401, {"message": "Unauthorized"})
            elif self.path == "/api/graphql":
                self._answer(200, {"data": {"me": {"corpUser": {"urn": ME}}}})
            elif "action=" in self.path:
                self._ingest(body)
            else:
                self._answer(404, {"message": "not found"})

        def _ingest(self, body: dict[str, Any]) -> None:
            fault = gms.next_fault()
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.status is not None:
                self._answer(
                    fault.status, {"message": f"stand-in fault {fault.status}", "status": fault.status}
                )
                return
            gms.take(body, self.path)
            self._answer(200, {"value": "ok"})

    return Handler
