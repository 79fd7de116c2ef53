"""A gzip bomb body cannot blow up the agent: decompression stops at max_body_bytes, so
memory stays near that bound whatever the compressed body expands to."""

from __future__ import annotations

import asyncio
import http.server
import threading
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from collectors.base import Context, Deadline
from collectors.probe.http import HttpCollector, HttpConfig

EXPANDED = 512 << 20  # 512 MiB of zeros, ~0.5 MiB on the wire
MAX_BODY = 1 << 20


def _bomb() -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(c.compress(block) for _ in range(EXPANDED >> 20)) + c.flush()


class _Bomb(http.server.BaseHTTPRequestHandler):
    body = b""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            self.wfile.write(self.body)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def bomb_url() -> Iterator[str]:
    _Bomb.body = _bomb()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Bomb)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


def test_gzip_bomb_is_cut_at_max_body_bytes(bomb_url: str) -> None:
    cfg = HttpConfig.model_validate({"name": "bomb", "type": "http", "target": bomb_url,
                                     "max_body_bytes": MAX_BODY, "timeout": "20s",
                                     "interval": "30s", "body_must_match": ["x"]})
    tracemalloc.start()
    try:
        obs = asyncio.run(HttpCollector(cfg).collect(Context(Deadline(20), "s", "bomb")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not obs.success
    assert "max_body_bytes" in obs.reason, obs.reason
    assert peak < 24 << 20, f"peak {peak >> 20} MiB"


def test_gzip_body_still_decoded(bomb_url: str) -> None:
    body = b"<html>pantau ok</html>" * 100
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    old = _Bomb.body
    _Bomb.body = c.compress(body) + c.flush()
    try:
        cfg = HttpConfig.model_validate({"name": "ok", "type": "http", "target": bomb_url,
                                         "timeout": "5s", "interval": "30s",
                                         "body_must_match": ["pantau ok"]})
        obs = asyncio.run(HttpCollector(cfg).collect(Context(Deadline(5), "s", "ok")))
    finally:
        _Bomb.body = old
    assert obs.success, obs.reason
    sizes = [s.value for s in obs.samples if s.name == "pantau_http_body_bytes"]
    assert sizes == [len(body)]
