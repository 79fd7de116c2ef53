"""A flood of 1,000 idle and slow clients (plain and TLS) does not lock out a scrape: a
concurrent scraper from another address gets 200 on every scrape, and the agent's memory stays
bounded. The flood reconnects whenever the server drops it, as a hostile client would."""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.helpers.agent import run_agent
from tests.helpers.certs import make_pki

FLOOD = 1000
PEERS = 40  # source addresses 127.0.1.1-40: one peer's limit alone must not be the defence
SCRAPES = 40
MAX_RSS_MB = 200


class Flood:
    """FLOOD sockets: half never send a byte, half dribble a request head one byte a second."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.connects = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int) -> None:
        s = socket.socket()
        s.setblocking(False)
        s.bind((f"127.0.1.{1 + i % PEERS}", 0))
        s.connect_ex(("127.0.0.1", self.port))
        self.connects += 1
        self.sel.register(s, selectors.EVENT_READ, (i, time.monotonic()))

    def _run(self) -> None:
        for i in range(FLOOD):
            self._open(i)
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100
        while not self.stop.is_set():
            for key, _ in self.sel.select(0.2):
                s: socket.socket = key.fileobj  # type: ignore[assignment]
                i, _t = key.data
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # dropped by the server: come straight back
                    self.sel.unregister(s)
                    s.close()
                    self._open(i)
            now = time.monotonic()
            for key in list(self.sel.get_map().values()):
                i, t = key.data
                if i % 2 and now - t >= 1.0:
                    s = key.fileobj  # type: ignore[assignment]
                    try:
                        s.send(head[int(now - t) % len(head):][:1])  # type: ignore[union-attr]
                    except OSError:
                        pass
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def __enter__(self) -> Flood:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _scrape(port: int, tls: ssl.SSLContext | None, auth: str | None) -> int:
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.0.9", 0))
    try:
        s.connect(("127.0.0.1", port))
        conn: Any = tls.wrap_socket(s, server_hostname="127.0.0.1") if tls else s
        extra = f"Authorization: Basic {auth}\r\n" if auth else ""
        conn.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
                     .encode())
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]) if data else 0
    except OSError:
        return -1
    finally:
        s.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_scrapes_survive_a_flood(tmp_path: Path, scheme: str) -> None:
    cfg: dict[str, Any] = {"site": "kantor-flood", "host": {"enabled": False}}
    tls: ssl.SSLContext | None = None
    auth = None
    if scheme == "https":
        import base64

        pki = make_pki(tmp_path)
        hashed = bcrypt.hashpw(b"rahasia", bcrypt.gensalt(4)).decode()
        web = tmp_path / "web.yml"
        web.write_text(yaml.safe_dump({
            "tls_server_config": {"cert_file": str(pki["server"]),
                                  "key_file": str(pki["server_key"])},
            "basic_auth_users": {"prometheus": hashed}}))
        cfg["web_config_file"] = str(web)
        tls = ssl.create_default_context(cafile=str(pki["ca"]))
        auth = base64.b64encode(b"prometheus:rahasia").decode()
    with run_agent(cfg, tmp_path, wait_ready=False) as agent:
        port = int(agent.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 20
        while _scrape(port, tls, auth) != 200:
            assert time.monotonic() < deadline, "agent never answered"
            time.sleep(0.2)
        with Flood(port) as flood:
            time.sleep(2.0)  # the flood is in place
            results = []
            for _ in range(SCRAPES):
                results.append(_scrape(port, tls, auth))
                time.sleep(0.25)
            rss = _rss_mb(agent.proc.pid)
            connects = flood.connects
        assert connects >= FLOOD
        assert results == [200] * SCRAPES, results
        assert rss < MAX_RSS_MB, rss
        assert agent.proc.poll() is None
