"""A response's head goes out with its body's first bytes (``web/one_write.py``, ADR 0072)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from scimhub.web.one_write import HeadWithBody


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _cycle() -> tuple[Any, _Transport, list[str]]:
    transport, completed = _Transport(), []
    cycle = SimpleNamespace(transport=transport, response_started=False)
    cycle.on_response = lambda: completed.append("done")
    HeadWithBody.install(cycle)  # type: ignore[arg-type]
    return cycle, transport, completed


def test_the_head_goes_with_the_first_write_of_the_body_and_the_rest_as_written() -> None:
    cycle, transport, completed = _cycle()
    cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: at once
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.response_started = True
    cycle.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert len(transport.writes) == 1  # held
    cycle.transport.write(b"first")
    cycle.transport.write(b"second")
    cycle.on_response()
    assert transport.writes[1:] == [b"HTTP/1.1 200 OK\r\n\r\nfirst", b"second"]
    assert completed == ["done"] and not cycle.transport.is_closing()


def test_a_response_without_a_body_write_sends_its_head_as_it_completes() -> None:
    """A HEAD (uvicorn writes no body for it), or one that completes with nothing more to write."""
    cycle, transport, completed = _cycle()
    cycle.response_started = True
    cycle.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert transport.writes == []
    cycle.on_response()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"] and completed == ["done"]


def test_closing_sends_the_held_head_first() -> None:
    """uvicorn closes a connection whose application failed after starting its response."""
    cycle, transport, _ = _cycle()
    cycle.response_started = True
    cycle.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    cycle.transport.close()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"] and transport.closed
