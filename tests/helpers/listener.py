"""A real TCP listener on loopback that a tcp check can reach, and that a test can cut."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpListener:
    """Accepts and closes connections on 127.0.0.1 until `stop()`, after which connecting is
    refused (the port stays reserved by no one: `start()` again binds the same port)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TcpListener:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self._sock = s
        self._thread = threading.Thread(target=self._loop, args=(s,), daemon=True)
        self._thread.start()
        return self

    def _loop(self, s: socket.socket) -> None:
        while self._sock is s:
            try:
                conn, _ = s.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        s, self._sock = self._sock, None
        if s is not None:
            with contextlib.suppress(OSError):
                s.close()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def __enter__(self) -> TcpListener:
        return self.start() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
