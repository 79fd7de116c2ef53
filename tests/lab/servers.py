"""The lab's "internet" services, one process per service so a test can stop exactly one.

Run by OfficeLab inside the internet namespace (`ip netns exec ... python servers.py MODE ...`);
stdlib only, so any python3 can run it. Modes:
  http   --port P                       the permit portal over plain HTTP
  https  --port P --cert C --key K      the same portal over TLS
  banner --port P --text T              a TCP service that greets with a banner line
Portal paths: / and /health -> 200, /error -> 500, /redirect -> 302 to /, /loop -> 302 to
itself, /redirect-to?url=U -> 302 to U, /headers -> 200 echoing the request headers,
/slow -> 200 after 5 s, anything else -> 404.
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK_BODY = b"<html><body><h1>Sistem Perizinan Online</h1><p>status: OK</p></body></html>\n"


class Portal(BaseHTTPRequestHandler):
    server_version = "LabPortal/1.0"
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/health"):
            self._send(200, OK_BODY)
        elif path == "/error":
            self._send(500, b"internal server error: database unavailable\n")
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/"})
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/headers":
            self._send(200, str(self.headers).encode())
        elif path == "/redirect-to":
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            self._send(302, b"", {"Location": query.get("url", ["/"])[0]})
        elif path == "/slow":
            time.sleep(5)
            self._send(200, OK_BODY)
        else:
            self._send(404, b"not found\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.do_GET()


class LabHTTPServer(ThreadingHTTPServer):
    """HTTPServer.server_bind asks DNS for its own name (getfqdn): no DNS in the lab."""

    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self) -> None:
        if ":" in str(self.server_address[0]):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class BannerServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], handler: type[BannerHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class BannerHandler(socketserver.BaseRequestHandler):
    text = b""

    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            self.request.sendall(self.text)
            self.request.recv(1024)
        except OSError:
            pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["http", "https", "banner"])
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--text", default="220 lab ready")
    a = ap.parse_args()
    server: socketserver.BaseServer
    if a.mode == "banner":
        BannerHandler.text = (a.text + "\r\n").encode()
        server = BannerServer((a.host, a.port), BannerHandler)
    else:
        LabHTTPServer.address_family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        server = LabHTTPServer((a.host, a.port), Portal)
        if a.mode == "https":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(a.cert, a.key)
            # Handshake in the handler thread, so one idle client can't stall the accept loop.
            server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
