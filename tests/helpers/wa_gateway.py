"""A fake WhatsApp gateway (Fonnte/Wablas-like) on loopback: records every request (method,
path, headers, raw body) and answers like those APIs do — 200 {"status": true} with the
right Authorization, 401 without it, or a configured status to test retries."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Gateway:
    token: str
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # statuses for the next requests


@contextlib.contextmanager
def wa_gateway(token: str = "wa-test-token") -> Iterator[Gateway]:
    gw = Gateway(token)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            gw.requests.append({"method": self.command, "path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body})
            if gw.fail_with:
                status, answer = gw.fail_with.pop(0), b'{"status":false,"reason":"busy"}'
            elif self.headers.get("Authorization") != gw.token:
                status, answer = 401, b'{"status":false,"reason":"invalid token"}'
            else:
                status, answer = 200, b'{"status":true,"detail":"success! message in queue"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_PUT = do_PATCH = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
