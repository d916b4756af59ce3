"""``configure_logging``: JSON lines on stderr, and records that look up nothing the line does not show."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from scimhub.logs import configure_logging

_FLAGS = ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile")


@pytest.fixture
def restored() -> Iterator[None]:
    """Put logging back as the test found it: its flags are global."""
    root = logging.getLogger()
    flags = {name: getattr(logging, name) for name in _FLAGS}
    handlers, level = root.handlers[:], root.level
    yield
    for name, value in flags.items():
        setattr(logging, name, value)
    root.handlers[:], root.level = handlers, level


def test_a_line_is_json_with_its_fields(restored: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    logging.getLogger("scimhub.test").info("hello %s", "there", extra={"request": {"status": 200}})
    line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"], line["status"]) == ("info", "scimhub.test", 200)


def test_records_skip_the_caller_thread_and_process(restored: None) -> None:
    configure_logging("info")
    record = logging.getLogger("scimhub.test").makeRecord("scimhub.test", logging.INFO, "", 0, "m", (), None)
    assert (record.threadName, record.processName, record.process) == (None, None, None)
    assert logging._srcfile is None  # type: ignore[attr-defined]  # no frame walk for funcName and lineno
