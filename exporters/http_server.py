"""The HTTP endpoint: /metrics, /probe, /-/healthy, /-/ready, /-/reload, and the status page
and API (/, /status, /api/...) answered by a handler the agent passes in.

Written on asyncio streams rather than prometheus_client's server because that server does the
TLS handshake in its accept loop: one client that connects and says nothing stalls every HTTPS
scrape behind it. Here every connection is its own task, the handshake has a deadline and so
has every request read, so an idle or slow client only ever holds its own connection.

A flood must not lock out a scrape and must not grow memory. So: the TLS handshake runs inside
the connection's task (start_tls), after the connection is counted, instead of in asyncio's
accept path where it holds ~170 KB per silent client uncounted; each peer address may hold at
most max_connections_per_peer connections (more are closed at once); when all
max_connections are taken, a new connection evicts an idle one (silent, mid-handshake or
dribbling a head) of the peer holding the most connections rather than being refused, so a
flood pushes out its own connections before a scraper's; and responses
go out in chunks behind a small write buffer, so a client that stops reading holds ~64 KB
(~110 KB over TLS, with OpenSSL's state), not a copy of the whole exposition.

A scrape never runs a probe: /metrics serves the lines rendered when results changed.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from collectors.common.tls import is_ssl_error
from exporters.exposition import CONTENT_TYPE, Exposition
from exporters.webconfig import BasicAuth, WebConfig

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

# asyncio gives every TLS connection a 256 KiB read buffer; at the connection cap that alone
# is 64 MiB (measured: 291 MB RSS under a TLS flood, 128 MB with 16 KiB). 16 KiB is the
# largest TLS record, so reads are no less efficient. Applies process-wide, on purpose.
asyncio.sslproto.SSLProtocol.max_size = 16 * 1024

ProbeHandler = Callable[[str, str, float | None], Awaitable[tuple[int, str, bytes]]]
# module, target, auth, scrape timeout -> status, content type, body
SnmpHandler = Callable[[str, str, str, float | None], Awaitable[tuple[int, str, bytes]]]
ReloadHandler = Callable[[], Awaitable[tuple[bool, str]]]
# (method, path, query, headers, request body) -> (status, content type, body): /, /status
# and /api/...
StatusHandler = Callable[[str, str, str, dict[str, str], bytes],
                         Awaitable[tuple[int, str, bytes]]]
# whether a path is served without the password even when basic auth is on (/status when
# status_page.public says so)
OpenPaths = Callable[[str], bool]

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_CONNECTIONS = 256
MAX_CONNECTIONS_PER_PEER = 16  # Prometheus needs one; an HA pair behind NAT a few
REQUEST_READ_TIMEOUT = 5.0  # a request head (and body) must arrive within this once started
KEEPALIVE_IDLE = 60.0  # an idle keep-alive connection is closed after this
HANDSHAKE_TIMEOUT = 5.0
WRITE_TIMEOUT = 30.0  # a client that stops reading its response is dropped after this
WRITE_CHUNK = 64 * 1024
WRITE_BUFFER_HIGH = 64 * 1024  # per connection, what asyncio keeps before drain() waits
# Over TLS a response sits in three buffers (the plaintext backlog, OpenSSL's outgoing
# records, the socket transport's), each filled up to its high-water mark before drain()
# waits: 64 KiB each let 200 clients that never read hold ~110 MB. One TLS record (16 KiB)
# per chunk and per buffer keeps the same throughput at a quarter of the memory.
WRITE_CHUNK_TLS = 16 * 1024
WRITE_BUFFER_HIGH_TLS = 16 * 1024
# Building the /metrics body ahead of the next scrape (Exposition.build_ahead, at most once per
# scrape) waits until no result changed it for AHEAD_QUIET: results come in steps (a round of
# icmp results, slices of 50 of a larger one), and building after the first step of several
# would build for nothing. After AHEAD_WAITS checks it builds anyway (results that never stop).
AHEAD_QUIET = 0.003
AHEAD_WAITS = 20

_REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}
_UNAUTHENTICATED = frozenset({"/-/healthy", "/-/ready"})

LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>pantau</title></head>
<body><h1>pantau</h1><p>Monitoring agent for site <b>{site}</b>.</p><ul>
<li><a href="/metrics">/metrics</a></li><li><a href="/-/healthy">/-/healthy</a></li>
<li><a href="/-/ready">/-/ready</a></li>
<li>/probe?module=&lt;module&gt;&amp;target=&lt;target&gt; (blackbox-style probes)</li>
<li>/snmp?module=&lt;module&gt;&amp;target=&lt;target&gt; (snmp_exporter-style)</li>
<li>POST /-/reload (re-read the configuration; needs --web.enable-lifecycle)</li></ul>
</body></html>
"""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Conn:
    __slots__ = ("busy", "evicted", "peer", "task")

    def __init__(self, peer: str, task: asyncio.Task[None]) -> None:
        self.peer = peer
        self.task = task
        self.busy = False  # producing a response: never evicted for a newcomer
        self.evicted = False


def _end_stream(writer: asyncio.StreamWriter, raw: asyncio.BaseTransport,
                handshaken: bool) -> None:
    """Break the reference cycles asyncio leaves behind a closed connection, so reference
    counting frees it at once instead of a full garbage collection, which the agent runs
    rarely (agent/runtime.py). A flood of clients that reconnect as fast as they are dropped
    grew the agent by ~100 MiB in 10 s with them (tests/peers/test_http_flood.py).

    - After a failed TLS handshake asyncio before 3.12 (CPython gh-109534) never tells the
      stream protocol its connection is gone: the raw transport's protocol is the TLS one by
      then, and it drops the news while handshaking. The stream protocol, its writer and the
      connection's task stay a cycle.
    - Every selector transport keeps a bound method of itself as its read callback. Once
      aborted it reads no more, so a callable that holds nothing takes its place.
    There is no public way to reach either."""
    proto = getattr(writer, "_protocol", None)
    if not handshaken and isinstance(proto, asyncio.StreamReaderProtocol) and not getattr(
            proto, "_connection_lost", True):
        proto.connection_lost(None)
    if raw.is_closing() and callable(getattr(raw, "_read_ready_cb", None)):
        raw._read_ready_cb = _read_nothing  # type: ignore[attr-defined]


def _forget(exc: BaseException | None) -> None:
    """Drop the tracebacks of an exception that ended a connection, and of those it chains.

    asyncio keeps such an exception in the connection's futures, and its traceback holds the
    frames that hold those futures: a cycle with the TLS state (a 256 KiB buffer) in it, per
    failed handshake (CPython gh-109534). Nothing reads these tracebacks afterwards."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__context__ or exc.__cause__


def _read_nothing() -> None:
    """The read callback of an aborted transport (see _end_stream)."""


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
        snmp: SnmpHandler | None = None,
        status: StatusHandler | None = None,
        open_path: OpenPaths = lambda path: False,
        site: str = "",
        max_connections: int = MAX_CONNECTIONS,
        max_connections_per_peer: int = MAX_CONNECTIONS_PER_PEER,
        request_timeout: float = REQUEST_READ_TIMEOUT,
        keepalive_idle: float = KEEPALIVE_IDLE,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        self.exposition = exposition
        self.host = host
        self.port = port
        self.web_config = web_config or WebConfig()
        self.ready = ready
        self.reload = reload
        self.probe = probe
        self.snmp = snmp
        self.status = status
        self.open_path = open_path
        self.site = site
        self.auth = BasicAuth(self.web_config.basic_auth_users)
        self._ssl: ssl.SSLContext | None = self.web_config.ssl_context()
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], _Conn] = {}  # oldest first
        self._per_peer: dict[str, int] = {}
        self.max_connections = max_connections
        self.max_connections_per_peer = max_connections_per_peer
        self.request_timeout = request_timeout
        self.keepalive_idle = keepalive_idle
        self.handshake_timeout = handshake_timeout
        self.refused_connections = 0  # over max_connections_per_peer, or all busy
        self.evicted_connections = 0  # idle ones closed to make room
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ahead: asyncio.Handle | None = None  # the pending build-ahead check

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def scheme(self) -> str:
        return "https" if self._ssl else "http"

    async def start(self) -> None:
        # "[::]" / "::" / "" listen on every address of both families, like Go's ":9877".
        host: str | None = self.host.strip().removeprefix("[").removesuffix("]")
        if host in ("", "::", "*"):
            host = None
        # no ssl= here: asyncio would handshake before _accept runs, uncounted (see above)
        self._server = await asyncio.start_server(
            self._accept, host=host, port=self.port, reuse_address=True,
            limit=MAX_HEADER_BYTES, backlog=1024,
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self.exposition.on_change(self._body_changed)

    # -- /metrics built ahead of the scrape ------------------------------------------------
    def _body_changed(self) -> None:
        """The exposition's hook, once after each scrape at its first change (possibly from
        another thread): check for a quiet loop once this step is over."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._ahead is None:
            self._ahead = loop.call_soon_threadsafe(self._ahead_wait, -1, AHEAD_WAITS)

    def _ahead_wait(self, seen: int, waits: int) -> None:
        changes = self.exposition.changes
        if changes == seen or waits <= 0:
            self._ahead = None
            self.exposition.build_ahead()  # nothing if a scrape built it meanwhile
            return
        assert self._loop is not None
        self._ahead = self._loop.call_later(AHEAD_QUIET, self._ahead_wait, changes, waits - 1)

    async def apply_web_config(self, new: WebConfig) -> None:
        """Take a re-read web config into use, as exporter-toolkit does when its file changes.

        Users, allowed SANs and headers apply from the next request. asyncio fixes a
        listener's TLS context when it starts, so when TLS is on before or after, the listening
        socket is re-opened on the same address with the new context (a renewed certificate,
        another client CA, TLS switched on or off): connections in flight finish on the old one
        and the port is closed for about a millisecond. If the port cannot be re-opened the old
        settings and listener are restored and the OSError is raised.
        """
        new_ssl = new.ssl_context()  # ValueError naming the field; nothing changed yet
        old = (self.web_config, self.auth, self._ssl)
        self.web_config = new
        if new.basic_auth_users != old[0].basic_auth_users:  # else keep the bcrypt cache
            self.auth = BasicAuth(new.basic_auth_users)
        if old[2] is None and new_ssl is None:
            return
        if self._server is not None:
            self._server.close()
        self._ssl = new_ssl
        try:
            await self.start()
        except OSError:
            self.web_config, self.auth, self._ssl = old
            await self.start()
            raise

    async def stop(self) -> None:
        if self._loop is not None:
            self.exposition.on_change(None)
            self._loop = None
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def _admit(self, peer: str, task: asyncio.Task[None]) -> _Conn | None:
        if self._per_peer.get(peer, 0) >= self.max_connections_per_peer:
            return None
        if len(self._conns) >= self.max_connections:
            victim = self._victim()
            if victim is None:
                return None
            self.evicted_connections += 1
            del self._conns[victim.task]
            self._release(victim.peer)
            victim.evicted = True
            victim.task.cancel()
        conn = _Conn(peer, task)
        self._conns[task] = conn
        self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
        return conn

    def _victim(self) -> _Conn | None:
        """The oldest idle connection of the peer holding the most: a flood evicts its own
        connections first, and a scraper's single connection goes last."""
        idle: dict[str, _Conn] = {}
        for c in self._conns.values():  # oldest first, so the first seen per peer is oldest
            if not c.busy and c.peer not in idle:
                idle[c.peer] = c
        if not idle:
            return None
        return idle[max(idle, key=lambda p: self._per_peer.get(p, 0))]

    def _release(self, peer: str) -> None:
        n = self._per_peer.get(peer, 0) - 1
        if n > 0:
            self._per_peer[peer] = n
        else:
            self._per_peer.pop(peer, None)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) else str(peername)
        conn = self._admit(peer, task)
        if conn is None:
            self.refused_connections += 1
            writer.transport.abort()  # nothing read, nothing written, nothing kept
            _end_stream(writer, writer.transport, True)
            return
        handshaken, raw = self._ssl is None, writer.transport
        try:
            if self._ssl is None:
                writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
            else:  # the socket's limit stays on the transport under TLS, then the TLS one's
                writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH_TLS)
                await writer.start_tls(self._ssl, ssl_handshake_timeout=self.handshake_timeout)
                handshaken = True
                writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH_TLS)
            if not self.web_config.peer_allowed(writer.get_extra_info("peercert")):
                await asyncio.wait_for(
                    self._respond(writer, 403, b"client certificate not allowed\n",
                                  keep=False), 2)
                return
            await self._serve(reader, writer, conn)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError,
                asyncio.CancelledError) as e:
            _forget(e)
        except Exception as e:
            if is_ssl_error(e):  # a failed handshake; ssl is loaded only when TLS is on
                _forget(e)
            else:  # a bug in one request must not take the server down
                log.error("HTTP connection failed: %s: %s", type(e).__name__, e)
        finally:
            if self._conns.pop(task, None) is not None:
                self._release(peer)
            if conn.evicted:
                writer.transport.abort()
            else:  # let a last "Connection: close" response reach the client
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 2)
                except Exception as e:  # the client went first: nothing more to send
                    _forget(e)
                writer.transport.abort()
            _end_stream(writer, raw, handshaken)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     conn: _Conn) -> None:
        """Requests on one connection, one after the other (keep-alive, no pipelining tricks).

        Two clocks: a connection may sit idle between requests for keepalive_idle, but once
        a request's first byte is in, the whole head and body must follow within
        request_timeout, so a client dribbling bytes (slowloris) only ever holds its own slot,
        and only briefly.
        """
        idle = self.request_timeout
        while True:
            try:
                first = await asyncio.wait_for(reader.read(1), idle)
            except TimeoutError:
                return
            if not first:
                return
            try:
                async with asyncio.timeout(self.request_timeout):
                    rest = await reader.readuntil(b"\r\n\r\n")
                    method, target, version, headers = _parse_head(first + rest)
                    length = _content_length(headers)
                    if length and headers.get("expect", "").lower() == "100-continue":
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await reader.readexactly(length) if length else b""
            except (asyncio.LimitOverrunError, ValueError):  # ValueError: limit hit mid-read
                await self._respond(writer, 431, b"request head too large\n", keep=False)
                return
            except _BadRequest as e:
                await self._respond(writer, e.status, f"{e}\n".encode(), keep=False)
                return
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            value = headers.get("connection", "").lower()
            keep = value == "keep-alive" if version == "HTTP/1.0" else value != "close"
            conn.busy = True
            try:
                await self._route(writer, method, target, headers, keep, body)
            finally:
                conn.busy = False
            if not keep:
                return
            idle = self.keepalive_idle

    async def _route(self, writer: asyncio.StreamWriter, method: str, target: str,
                     headers: dict[str, str], keep: bool, body: bytes = b"") -> None:
        url = urlsplit(target)
        path = url.path
        open_ = path in _UNAUTHENTICATED or (method in ("GET", "HEAD") and self.open_path(path))
        if not open_ and not await self.auth.check_async(headers.get("authorization")):
            await self._respond(writer, 401, b"Unauthorized\n", keep,
                                extra={"WWW-Authenticate": 'Basic realm="pantau"'})
            return
        head_only = method == "HEAD"
        if method not in ("GET", "HEAD", "POST"):
            await self._respond(writer, 405, b"method not allowed\n", keep)
            return
        if path == "/metrics" and method != "POST":
            use_gzip = _accepts_gzip(headers.get("accept-encoding", ""))
            # Built here only if a result changed since the last scrape, and then only the
            # blocks that changed (exporters/exposition.py), so it runs inline: a thread hop
            # per scrape measurably raised p99. A scrape of an unchanged body is one lock.
            body = self.exposition.body(use_gzip)
            extra = {"Vary": "Accept-Encoding"}
            if use_gzip:
                extra["Content-Encoding"] = "gzip"
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
                await self._respond(writer, 403, b"lifecycle API is not enabled: start pantau "
                                    b"with --web.enable-lifecycle, or send SIGHUP\n", keep)
            else:
                try:
                    ok, message = await self.reload()
                except Exception as e:  # a bug in the handler is a failed reload
                    ok, message = False, f"reload failed: {type(e).__name__}: {e}"
                await self._respond(writer, 200 if ok else 500, (message + "\n").encode(), keep)
        elif path == "/probe" and method != "POST":
            await self._probe(writer, url.query, headers, keep)
        elif path == "/snmp" and method != "POST":
            await self._snmp(writer, url.query, headers, keep)
        elif self.status is not None and (path in ("/", "/status")
                                          or path.startswith("/api/")):
            if method == "POST" and path.endswith("/note") and \
                    not self.web_config.basic_auth_users:
                # a POST writes what citizens read (incident notes): never without a password
                await self._respond(writer, 403, b"POST needs basic auth: set basic_auth_users "
                                    b"in the web config file (docs/status-api.md)\n", keep)
                return
            try:
                status, ctype, body = await self.status(method, path, url.query, headers,
                                                        body)
            except Exception as e:  # a bug in the page must not cost the connection
                log.error("%s failed: %s: %s", path, type(e).__name__, e)
                status, ctype, body = 500, "text/plain; charset=utf-8", b"status failed\n"
            await self._respond(writer, status, body, keep, ctype,
                                {"Cache-Control": "no-store"}, head_only)
        elif path == "/" and method != "POST":
            import html  # ~0.5 MiB (html.entities), loaded for the pages that need it

            body = LANDING.format(site=html.escape(self.site)).encode()
            await self._respond(writer, 200, body, keep, "text/html; charset=utf-8",
                                head_only=head_only)
        else:
            await self._respond(writer, 404, b"not found\n", keep)

    async def _probe(self, writer: asyncio.StreamWriter, query: str, headers: dict[str, str],
                     keep: bool) -> None:
        probe = self.probe
        if probe is None:
            await self._respond(writer, 404, b"no probe modules configured\n", keep)
            return
        await self._on_demand(writer, query, headers, keep, "probe",
                              lambda p, timeout: probe(p["module"], p["target"], timeout))

    async def _snmp(self, writer: asyncio.StreamWriter, query: str, headers: dict[str, str],
                    keep: bool) -> None:
        snmp = self.snmp
        if snmp is None:
            await self._respond(writer, 404, b"no snmp.exporter_modules configured\n", keep)
            return
        await self._on_demand(writer, query, headers, keep, "snmp",
                              lambda p, timeout: snmp(p["module"], p["target"],
                                                      p.get("auth", ""), timeout))

    async def _on_demand(
        self, writer: asyncio.StreamWriter, query: str, headers: dict[str, str], keep: bool,
        what: str,
        run: Callable[[dict[str, str], float | None], Awaitable[tuple[int, str, bytes]]],
    ) -> None:
        """/probe and /snmp alike: module and target required, Prometheus' scrape timeout
        honoured, a failing handler answered with 500 and logged, never raised."""
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if not params.get("module") or not params.get("target"):
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
        try:
            status, ctype, body = await run(params, scrape_timeout)
        except Exception as e:
            log.error("%s %s failed: %s: %s", what, params["module"], type(e).__name__, e)
            status, ctype, body = 500, "text/plain; charset=utf-8", f"{what} failed\n".encode()
        await self._respond(writer, status, body, keep, ctype)

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                       keep: bool, content_type: str = "text/plain; charset=utf-8",
                       extra: dict[str, str] | None = None, head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                 f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                 f"Connection: {'keep-alive' if keep else 'close'}"]
        for k, v in {**self.web_config.http_server_config.headers, **(extra or {})}.items():
            lines.append(f"{k}: {v}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        async with asyncio.timeout(WRITE_TIMEOUT):
            if head_only or not body:
                writer.write(head)
            else:
                # The head goes out with the first chunk, in one send: a send of its own woke
                # the client for a few hundred bytes, and on a busy machine the client then
                # ran before the agent's next send (seen as the answer's tail over loopback).
                view = memoryview(body)
                step = WRITE_CHUNK if writer.get_extra_info("ssl_object") is None \
                    else WRITE_CHUNK_TLS
                writer.write(head + view[:step])
                await writer.drain()
                for i in range(step, len(view), step):
                    writer.write(view[i:i + step])
                    await writer.drain()
            await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    text = head.decode("latin-1")  # latin-1 decodes any byte; bad bytes fail the checks below
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[0].isalpha():
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if target.startswith(("http://", "https://")):  # absolute-form, as proxies send it
        split = urlsplit(target)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    if not target.startswith("/"):
        raise _BadRequest(400, "malformed request target")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
            raise _BadRequest(400, "malformed header")
        key = name.lower()
        if key in headers and key in ("content-length", "host", "authorization"):
            raise _BadRequest(400, f"duplicate {name} header")
        headers[key] = value.strip()
    if "transfer-encoding" in headers:
        raise _BadRequest(501, "request bodies must use Content-Length")
    return method, target, version, headers


def _content_length(headers: dict[str, str]) -> int:
    raw = headers.get("content-length")
    if raw is None or raw == "":
        return 0
    if not raw.isdigit():
        raise _BadRequest(400, "bad Content-Length")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise _BadRequest(413, "body too large")
    return length


def _accepts_gzip(value: str) -> bool:
    """Accept-Encoding names gzip and does not refuse it with q=0."""
    for item in value.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().removeprefix("q=")
            try:
                return not params or float(q) > 0
            except ValueError:
                return True
    return False
