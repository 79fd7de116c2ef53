"""A closed connection leaves no reference cycle behind in the server: reference counting
frees it at once. The agent runs full garbage collections rarely (agent/runtime.py), so a
cycle per connection is memory that a flood of reconnecting clients piles up
(tests/peers/test_http_flood.py measures that bound; this test names the objects).

The server runs in this process under asyncio; the clients are plain blocking sockets in a
thread, so every asyncio transport or stream protocol the collector finds is the server's.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporters.exposition import Exposition
from exporters.http_server import MetricsServer
from exporters.webconfig import WebConfig, load_web_config
from tests.helpers.certs import make_pki

ROUNDS = 20  # of each kind of connection below
# asyncio's own objects that must not be in a cycle once their connection is closed
WATCHED = ("_SelectorSocketTransport", "StreamReaderProtocol", "StreamWriter", "Task",
           "SSLProtocol", "_SSLProtocolTransport")


@pytest.fixture
def saved_garbage() -> Iterator[None]:
    """Collector off, unreachable objects kept in gc.garbage for the test to name."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()


def _request(port: int, tls: ssl.SSLContext | None, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        conn = tls.wrap_socket(s, server_hostname="127.0.0.1") if tls else s
        conn.sendall(head)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        return data


def _clients(port: int, tls: ssl.SSLContext | None) -> list[str]:
    """Every way a connection ends; returns what went other than expected."""
    wrong: list[str] = []
    ok = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for _ in range(ROUNDS):
        if not _request(port, tls, ok).startswith(b"HTTP/1.1 200"):
            wrong.append("request")
        # not TLS where TLS is spoken / a bad request where it is not
        if tls is not None:
            try:
                _request(port, None, b"GET / HTTP/1.1\r\n\r\n")
            except OSError:
                pass
        elif not _request(port, None, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400"):
            wrong.append("garbage")
        # gone before a byte
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        # refused: the peer holds its two connections already
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            third = socket.create_connection(("127.0.0.1", port), timeout=5)
            third.settimeout(5)
            try:
                if third.recv(1) != b"":
                    wrong.append("refused")
            except OSError:
                pass
            third.close()
        finally:
            for s in held:
                s.close()
    return wrong


async def _serve(web: WebConfig, tls: ssl.SSLContext | None) -> tuple[list[str], Counter[str]]:
    server = MetricsServer(Exposition(), "127.0.0.1", 0, web_config=web,
                           max_connections_per_peer=2, handshake_timeout=2.0)
    await server.start()
    try:
        wrong = await asyncio.to_thread(_clients, server.port, tls)
        for _ in range(200):  # the server's side of the last closes, 4 s at most
            if not server._conns:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # connection_lost callbacks
    finally:
        await server.stop()
    gc.collect()
    found = Counter(type(o).__qualname__ for o in gc.garbage)
    return wrong, Counter({k: found[k] for k in WATCHED if found[k]})


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_closed_connections_leave_no_cycles(tmp_path: Path, scheme: str,
                                            saved_garbage: None) -> None:
    tls = None
    web = WebConfig()
    if scheme == "https":
        pki = make_pki(tmp_path)
        path = tmp_path / "web.yml"
        path.write_text(yaml.safe_dump({"tls_server_config": {
            "cert_file": str(pki["server"]), "key_file": str(pki["server_key"])}}))
        web = load_web_config(path)
        tls = ssl.create_default_context(cafile=str(pki["ca"]))
    wrong, cycles = asyncio.run(_serve(web, tls))
    assert wrong == []
    assert cycles == Counter(), cycles
