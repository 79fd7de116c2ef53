"""Real listeners on loopback that a check can reach, and that a test can cut: a bare TCP
listener, and an HTTP(S) server answering 200 "ok"."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
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


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a: object) -> None:
        pass


class OkHttpServer:
    """Answers every GET with 200 "ok" on 127.0.0.1 (HTTPS when given a server context) until
    `stop()`; `start()` again serves on the same port, so a test can take it down and back."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.tls = tls
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def start(self) -> OkHttpServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Ok)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> OkHttpServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
