"""One HTTP/1.1 exchange for the http check: asyncio streams, h11 for the protocol.

Why not httpx here: a check needs one request on a fresh connection to an address it resolved
itself, with each phase timed, and a body it reads raw under its own size limit. That is this
file; h11 (what httpx's own transport is built on) parses and frames the messages. Loading
httpx, httpcore and anyio for it cost ~5 MiB of RSS, and OpenSSL was mapped even for plain
http:// targets (BENCHMARKS.md, "Small office"). Here ssl is only touched by https.

The exchange records in a `Trace` which step it is in (for "timeout after 5.0s while waiting for
the response") and the time of "connect", "tls" and "first_byte" (request sent to response
headers, blackbox_exporter's "processing"). The caller times "dns", "transfer" and "total".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import h11

from collectors.common.url import URL

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

PHASES = ("dns", "connect", "tls", "first_byte", "transfer", "total")
_READ = 65536


class HttpProtocolError(Exception):
    """The peer did not speak HTTP/1.x as the request needed (h11's finding, or a close)."""


@dataclass(slots=True)
class Trace:
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    step: str = "resolving"
    ssl_object: Any = None


class Response:
    """Status and headers read; the body is read with `iter_raw` (transfer coding removed,
    content coding left to the caller). `aclose` closes the connection."""

    def __init__(self, event: h11.Response, conn: h11.Connection,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 trace: Trace) -> None:
        self.status_code = event.status_code
        self.http_version = "HTTP/" + event.http_version.decode("ascii", "replace")
        self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
        self._conn, self._reader, self._writer, self._trace = conn, reader, writer, trace

    def header(self, name: str) -> str | None:
        """The first value of a header (h11 gives names in lower case)."""
        return next((v for k, v in self.headers if k == name), None)

    @property
    def encoding(self) -> str:
        """The charset of Content-Type, utf-8 when it names none (or one Python lacks)."""
        import codecs

        for part in (self.header("content-type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                try:
                    return codecs.lookup(value.strip("\"' ")).name
                except LookupError:
                    break
        return "utf-8"

    async def iter_raw(self) -> AsyncIterator[bytes]:
        self._trace.step = "reading the body"
        while True:
            event = await _next_event(self._conn, self._reader)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise HttpProtocolError(f"unexpected {type(event).__name__} in the body")

    async def aclose(self) -> None:
        self._writer.close()
        # a peer that never answers the TLS close_notify must not hold the check up
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            raise HttpProtocolError(str(e)) from None
        if event is not h11.NEED_DATA:
            if isinstance(event, h11.ConnectionClosed):
                raise HttpProtocolError("the server closed the connection")
            return event
        data = await reader.read(_READ)
        if not data and conn.their_state is h11.SEND_RESPONSE:
            raise HttpProtocolError("the server closed the connection without a response")
        conn.receive_data(data)


async def exchange(method: str, url: URL, address: str, headers: list[tuple[str, str]],
                   body: bytes | None, trace: Trace, *, ssl_context: ssl.SSLContext | None,
                   server_hostname: str) -> Response:
    """Connect to `address` (the resolved host of `url`), TLS for https, send one request
    and read the response's head. The caller closes the response, and bounds the whole
    exchange with its deadline."""
    trace.step = "connecting"
    began = time.monotonic()
    reader, writer = await asyncio.open_connection(address, url.port, limit=_READ)
    try:
        trace.phases["connect"] += time.monotonic() - began
        if url.scheme == "https":
            assert ssl_context is not None, "https needs a context"
            trace.step = "in the TLS handshake"
            began = time.monotonic()
            await writer.start_tls(ssl_context, server_hostname=server_hostname)
            trace.phases["tls"] += time.monotonic() - began
            trace.ssl_object = writer.get_extra_info("ssl_object")
        conn = h11.Connection(h11.CLIENT)
        if body is not None:
            headers = [*headers, ("Content-Length", str(len(body)))]
        trace.step = "sending the request"
        sent = time.monotonic()
        try:
            out = conn.send(h11.Request(method=method, target=url.target, headers=headers))
            if body:
                out += conn.send(h11.Data(data=body))
            out += conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as e:
            raise HttpProtocolError(f"cannot send the request: {e}") from None
        writer.write(out)
        await writer.drain()
        trace.step = "waiting for the response"
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Response):
                break
            # a 1xx (100 Continue, 103 Early Hints) comes before the real one
        trace.phases["first_byte"] += time.monotonic() - sent
        if log.isEnabledFor(logging.DEBUG):  # no query string: it may carry a token
            log.debug("%s %s://%s%s (%s) -> %d", method, url.scheme, url.netloc,
                      url.target.partition("?")[0], address, event.status_code)
        return Response(event, conn, reader, writer, trace)
    except BaseException:
        writer.close()
        raise
