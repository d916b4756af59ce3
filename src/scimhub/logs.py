"""Logging: one JSON object per line on stderr, never a secret, each under its request's id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("scimhub_request_id", default=None)
"""The id of the request being served (set by ``web/access_log.py``), None outside one."""


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: time, level, logger, message, request id and its fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "info") -> None:
    """Send scimhub's and uvicorn's logs to stderr as JSON lines.

    The JSON line names no thread, process or source line, so no record looks them up: the caller's
    frame walk and the thread and process names cost about 3.5 µs of every request's access-log line
    (``bench/access_log.py``, 18.5 against 15.1 µs).
    """
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # the logging HOWTO's "Optimization"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
