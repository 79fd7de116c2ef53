"""A TCP listener on loopback that accepts connections and never sends a byte: a portal that
hangs, an SSH server that never sends its banner, a target whose connections are counted."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class Tarpit:
    """Use as a context manager; `port` to connect to, `count()` for connections accepted."""

    def __init__(self, backlog: int = 64, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(conn)

    def count(self, at_least: int = 0, timeout: float = 5.0) -> int:
        """Connections accepted so far, after waiting (bounded) until `at_least` are in: the
        kernel completes a handshake before this thread's accept() has run."""
        deadline = time.monotonic() + timeout
        while self.accepted < at_least and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.accepted

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()

    def __enter__(self) -> Tarpit:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
