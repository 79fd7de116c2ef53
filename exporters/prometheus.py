"""The HTTP endpoint: /metrics, /probe, /-/healthy, /-/ready, /-/reload and a landing page.

Written on asyncio streams rather than prometheus_client's server because that server does the
TLS handshake in its accept loop: one client that connects and says nothing stalls every HTTPS
scrape behind it. Here every connection is its own task, the handshake has a deadline
(asyncio's ssl_handshake_timeout) and so has every request read, so an idle or slow client only
ever holds its own connection.

A scrape never runs a probe: /metrics serves bytes rendered when results changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from exporters.exposition import CONTENT_TYPE, Exposition
from exporters.webconfig import BasicAuth, WebConfig

log = logging.getLogger(__name__)

ProbeHandler = Callable[[str, str, float | None], Awaitable[tuple[int, str, bytes]]]
ReloadHandler = Callable[[], Awaitable[tuple[bool, str]]]

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_CONNECTIONS = 256
REQUEST_READ_TIMEOUT = 10.0  # whole request head must arrive within this
KEEPALIVE_IDLE = 60.0
HANDSHAKE_TIMEOUT = 5.0

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}

LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>pantau</title></head>
<body><h1>pantau</h1><p>Monitoring agent for site <b>{site}</b>.</p><ul>
<li><a href="/metrics">/metrics</a></li><li><a href="/-/healthy">/-/healthy</a></li>
<li><a href="/-/ready">/-/ready</a></li></ul></body></html>
"""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MetricsServer:
    def __init__(
        self,
        exposition: Exposition,
        host: str,
        port: int,
        *,
        web_config: WebConfig | None = None,
        ready: Callable[[], bool] = lambda: True,
        reload: ReloadHandler | None = None,
        probe: ProbeHandler | None = None,
        site: str = "",
    ) -> None:
        self.exposition = exposition
        self.host = host
        self.port = port
        self.web_config = web_config or WebConfig()
        self.ready = ready
        self.reload = reload
        self.probe = probe
        self.site = site
        self.auth = BasicAuth(self.web_config.basic_auth_users)
        self._ssl: ssl.SSLContext | None = self.web_config.ssl_context()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    @property
    def scheme(self) -> str:
        return "https" if self._ssl else "http"

    async def start(self) -> None:
        host = self.host.strip("[]") or None
        if host in ("0.0.0.0", "::"):
            host = None if host == "::" else "0.0.0.0"
        self._server = await asyncio.start_server(
            self._accept, host=host, port=self.port, ssl=self._ssl,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self._ssl else None,
            reuse_address=True, limit=MAX_HEADER_BYTES,
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            if self._slots.locked():
                await self._respond(writer, 503, b"too many connections\n", keep=False)
                return
            async with self._slots:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug in one request must not take the server down
            log.exception("HTTP connection failed")
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while True:
            try:
                head = await asyncio.wait_for(
                    reader.readuntil(b"\r\n\r\n"),
                    REQUEST_READ_TIMEOUT if first else KEEPALIVE_IDLE,
                )
            except asyncio.LimitOverrunError:
                await self._respond(writer, 431, b"request head too large\n", keep=False)
                return
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            first = False
            try:
                method, target, version, headers = _parse_head(head)
                length = int(headers.get("content-length", "0") or 0)
                if length < 0 or length > MAX_BODY_BYTES:
                    raise _BadRequest(413, "body too large")
                if length:
                    await asyncio.wait_for(reader.readexactly(length), REQUEST_READ_TIMEOUT)
            except _BadRequest as e:
                await self._respond(writer, e.status, f"{e}\n".encode(), keep=False)
                return
            except ValueError:
                await self._respond(writer, 400, b"bad Content-Length\n", keep=False)
                return
            keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            await self._route(writer, method, target, headers, keep)
            if not keep:
                return

    async def _route(self, writer: asyncio.StreamWriter, method: str, target: str,
                     headers: dict[str, str], keep: bool) -> None:
        url = urlsplit(target)
        path = url.path
        if path not in ("/-/healthy", "/-/ready") and not self.auth.check(
                headers.get("authorization")):
            await self._respond(writer, 401, b"Unauthorized\n", keep,
                                extra={"WWW-Authenticate": 'Basic realm="pantau"'})
            return
        head_only = method == "HEAD"
        if method not in ("GET", "HEAD", "POST"):
            await self._respond(writer, 405, b"method not allowed\n", keep)
            return
        if path == "/metrics" and method != "POST":
            use_gzip = "gzip" in headers.get("accept-encoding", "")
            self.exposition.refresh()
            body = self.exposition.body(use_gzip)
            extra = {"Content-Encoding": "gzip"} if use_gzip else {}
            await self._respond(writer, 200, body, keep, CONTENT_TYPE, extra, head_only)
        elif path == "/-/healthy":
            await self._respond(writer, 200, b"OK\n", keep, head_only=head_only)
        elif path == "/-/ready":
            ok = self.ready()
            await self._respond(writer, 200 if ok else 503,
                                b"Ready\n" if ok else b"Not ready: first collection running\n",
                                keep, head_only=head_only)
        elif path == "/-/reload":
            if method != "POST":
                await self._respond(writer, 405, b"use POST\n", keep, extra={"Allow": "POST"})
            elif self.reload is None:
                await self._respond(writer, 404, b"reload not available\n", keep)
            else:
                ok, message = await self.reload()
                await self._respond(writer, 200 if ok else 500, (message + "\n").encode(), keep)
        elif path == "/probe" and method != "POST":
            await self._probe(writer, url.query, headers, keep)
        elif path == "/" and method != "POST":
            body = LANDING.format(site=html.escape(self.site)).encode()
            await self._respond(writer, 200, body, keep, "text/html; charset=utf-8",
                                head_only=head_only)
        else:
            await self._respond(writer, 404, b"not found\n", keep)

    async def _probe(self, writer: asyncio.StreamWriter, query: str, headers: dict[str, str],
                     keep: bool) -> None:
        if self.probe is None:
            await self._respond(writer, 404, b"no probe modules configured\n", keep)
            return
        params = parse_qs(query, keep_blank_values=True)
        module = (params.get("module") or [""])[0]
        target = (params.get("target") or [""])[0]
        if not module or not target:
            await self._respond(writer, 400, b"module and target parameters are required\n",
                                keep)
            return
        scrape_timeout: float | None = None
        raw = headers.get("x-prometheus-scrape-timeout-seconds")
        if raw:
            try:
                scrape_timeout = float(raw)
            except ValueError:
                await self._respond(writer, 400, b"bad X-Prometheus-Scrape-Timeout-Seconds\n",
                                    keep)
                return
        status, ctype, body = await self.probe(module, target, scrape_timeout)
        await self._respond(writer, status, body, keep, ctype)

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                       keep: bool, content_type: str = "text/plain; charset=utf-8",
                       extra: dict[str, str] | None = None, head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                 f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                 f"Connection: {'keep-alive' if keep else 'close'}"]
        for k, v in {**self.web_config.http_server_config.headers, **(extra or {})}.items():
            lines.append(f"{k}: {v}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not head_only:
            writer.write(body)
        await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
        raise _BadRequest(400, "undecodable request") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise _BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400, "malformed header")
        headers[name.lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers
