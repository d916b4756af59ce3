"""A TCP relay between a client and a server, for tests that watch or stall what goes between them."""

from __future__ import annotations

import socket
import threading


class Relay:
    """Carries every TCP connection made to ``port`` on to ``upstream``.

    ``sent`` holds the size of each read of what the clients sent, in order. While ``silent`` is
    set, what the server sends is held back, as from a server that stopped answering; the
    connections stay open, and their TCP peers (this relay) answer as before.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.upstream = upstream
        self.sent: list[int] = []
        self.silent = threading.Event()
        self._spoken = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def speak(self) -> None:
        """Let the server's answers through again, those held back first."""
        with self._spoken:
            self.silent.clear()
            self._spoken.notify_all()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, self.sent), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, reads: list[int] | None) -> None:
        try:
            while data := source.recv(1 << 20):
                if reads is not None:
                    reads.append(len(data))
                else:
                    with self._spoken:
                        self._spoken.wait_for(lambda: not self.silent.is_set())
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()
