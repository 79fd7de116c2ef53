"""A flood of 1,000 idle and slow clients (plain and TLS) does not lock out a scrape: a
concurrent scraper from another address gets 200 on every scrape, and the agent's memory stays
bounded. The flood reconnects whenever the server drops it, as a hostile client would."""

from __future__ import annotations

import selectors
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.helpers.agent import run_agent
from tests.helpers.certs import make_pki
from tests.helpers.waiting import wait_until

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


def _vm(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status in MB: VmHWM (peak RSS) or VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


def _rss_mb(pid: int) -> float:
    return _vm(pid, "VmHWM")


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


def tls_web_config(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A web config with the test CA's server certificate and basic auth prometheus/rahasia."""
    pki = make_pki(tmp_path)
    hashed = bcrypt.hashpw(b"rahasia", bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(pki["server"]),
                              "key_file": str(pki["server_key"])},
        "basic_auth_users": {"prometheus": hashed}}))
    return web, pki


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_scrapes_survive_a_flood(tmp_path: Path, scheme: str) -> None:
    cfg: dict[str, Any] = {"site": "kantor-flood", "host": {"enabled": False}}
    tls: ssl.SSLContext | None = None
    auth = None
    if scheme == "https":
        import base64

        web, pki = tls_web_config(tmp_path)
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


UNREAD_CLIENTS = 200
UNREAD_PEERS = 25  # 8 connections each, under the per-peer cap of 16
BIG_SERIES = 35_000  # ~3.7 MB of exposition, about what the issue measured (3.4 MB)
UNREAD_SCRAPES = 20
WARM_UP_SCRAPES = 24  # ~12 s of normal scraping: the re-renders every 5 s are in the baseline
MAX_UNREAD_GROWTH_MB = 48  # what 200 stuck responses may add to the agent's peak RSS


def _established(port: int) -> int:
    """Server-side TCP connections of the agent's port, by the kernel's own table. By its
    address as well as its port: a client bound to 127.0.2.x may be given the same port
    number, and its socket stays established while its unread bytes are in flight."""
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          f"( src 127.0.0.1 and sport = :{port} )"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return len([ln for ln in out.splitlines() if ln.strip()])


def test_tls_clients_that_never_read_a_big_body(tmp_path: Path) -> None:
    """Items 2/3 of issue 13, the never-reading client at scale: 200 clients, authenticated
    over TLS, each ask for a ~3.7 MB /metrics and never read a byte (a 4 KiB receive buffer,
    so the kernel cannot take the body off the agent's hands). A scraper from another
    address gets 200 on every scrape meanwhile; the agent's peak RSS grows by less than
    MAX_UNREAD_GROWTH_MB over what normal scraping peaks at, and stays under MAX_RSS_MB
    (measured: ~21 MB for the 200, ~107 KB each with 16 KiB TLS buffers; the 64 KiB ones
    before took ~55 MB, and the first design a copy of the body per client, ~3.4 MB each);
    every stuck connection is dropped within the write deadline (WRITE_TIMEOUT, plus the
    2 s given to a last close)."""
    import base64

    from exporters.http_server import WRITE_TIMEOUT

    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    pad = "x" * 40
    (textfiles / "big.prom").write_text(
        "# HELP kantor_flood_series Many series, for a big body.\n"
        "# TYPE kantor_flood_series gauge\n"
        + "".join(f'kantor_flood_series{{idx="{i}",pad="{pad}"}} {i}\n'
                  for i in range(BIG_SERIES)))
    web, pki = tls_web_config(tmp_path)
    cfg = {"site": "kantor-flood", "web_config_file": str(web),
           "host": {"collectors": ["textfile"], "textfile_directory": str(textfiles),
                    "interval": "120s", "timeout": "10s"}}
    tls = ssl.create_default_context(cafile=str(pki["ca"]))
    auth = base64.b64encode(b"prometheus:rahasia").decode()
    request = (f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\r\n"
               .encode())
    with run_agent(cfg, tmp_path, wait_ready=False) as agent:
        port = int(agent.url.rsplit(":", 1)[1])
        pid = agent.proc.pid

        def full_body() -> int:
            n = _scrape_body(port, tls, auth)
            return n if n > BIG_SERIES * 60 else 0

        size = wait_until(full_body, 30, "the big body on /metrics")
        for _ in range(WARM_UP_SCRAPES):  # what normal scraping costs, peaks included
            assert _scrape_body(port, tls, auth) > BIG_SERIES * 60
            time.sleep(0.5)
        baseline = _vm(pid, "VmHWM")
        clients = []
        try:
            for i in range(UNREAD_CLIENTS):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.bind((f"127.0.2.{1 + i % UNREAD_PEERS}", 0))
                s.settimeout(10)
                s.connect(("127.0.0.1", port))
                c = tls.wrap_socket(s, server_hostname="127.0.0.1")
                c.sendall(request)
                clients.append(c)
            sent = time.monotonic()
            assert _established(port) >= UNREAD_CLIENTS  # all held, none refused
            results, rss = [], []
            for _ in range(UNREAD_SCRAPES):
                results.append(_scrape(port, tls, auth))
                rss.append(_vm(pid, "VmRSS"))
            assert results == [200] * UNREAD_SCRAPES, results
            # the stuck responses are cut at the write deadline, not kept for ever
            gone = wait_until(lambda: _established(port) == 0 and time.monotonic(),
                              WRITE_TIMEOUT + 30, "stuck connections dropped", interval=0.5)
            took = gone - sent
            peak = _vm(pid, "VmHWM")
        finally:
            for c in clients:
                c.close()
        print(f"{UNREAD_CLIENTS} unread TLS responses of {size / 1e6:.1f} MB: "
              f"peak RSS {baseline:.0f} -> {peak:.0f} MB (max VmRSS while held "
              f"{max(rss):.0f} MB), {UNREAD_SCRAPES} scrapes all 200, dropped after {took:.1f}s")
        assert peak - baseline < MAX_UNREAD_GROWTH_MB, (baseline, peak)
        assert peak < MAX_RSS_MB, peak
        assert took <= WRITE_TIMEOUT + 2 + 5, took  # + the 2 s close, + a loaded machine
        assert agent.proc.poll() is None


def _scrape_body(port: int, tls: ssl.SSLContext, auth: str) -> int:
    """Bytes of one full HTTPS scrape (0 on any failure)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        c = tls.wrap_socket(s, server_hostname="127.0.0.1")
        c.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                  "Connection: close\r\n\r\n".encode())
        n = 0
        while chunk := c.recv(65536):
            n += len(chunk)
        return n
    finally:
        s.close()
