"""/probe must refuse every spelling of a target outside the module's allow-list before a
connection is made: the allow check and the connection use one parse of the target, the HTTP
check's own (collectors.common.url.URL) for URLs and split_host_port for host:port."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import run_agent
from tests.helpers.tarpit import Tarpit


@pytest.fixture
def listeners() -> Iterator[tuple[Tarpit, Tarpit]]:
    # 127.0.0.2 is allowed, 127.0.0.1 is not: every trick aims at the forbidden one
    with Tarpit(host="127.0.0.2") as allowed, Tarpit(host="127.0.0.1") as forbidden:
        yield allowed, forbidden


def _status(base: str, module: str, target: str) -> tuple[int, str]:
    q = urllib.parse.urlencode({"module": module, "target": target})
    try:
        with urllib.request.urlopen(f"{base}/probe?{q}", timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_tricks(port: int) -> list[str]:
    out: list[str] = []
    for d in ("127.0.0.2", "x.allowed.example", "X.ALLOWED.EXAMPLE"):
        out += [
            f"http://{d}@127.0.0.1:{port}/",
            f"http://{d}:80@127.0.0.1:{port}/",
            f"http://127.0.0.1:{port}#@{d}/",
            f"http://127.0.0.1:{port}?@{d}/",
            f"http://127.0.0.1:{port}/#@{d}",
            f"http://127.0.0.1:{port}/?@{d}",
            f"http://127.0.0.1:{port}/@{d}",
            f"http://{d}\\@127.0.0.1:{port}/",
            f"http://127.0.0.1:{port}\\@{d}/",
            f"http://127.0.0.1:{port}%23@{d}/",
            f"http://127.0.0.1:{port}%2F@{d}/",
            f"http://127.0.0.1:{port}\t@{d}/",
            f" http://127.0.0.1:{port}/ @{d}",
            f"http://127.0.0.1:{port}/{d}",
            f"http://localhost:{port}#@{d}/",
        ]
    out += [
        f"http://127.0.0.1:{port}#.allowed.example",
        f"http://127.0.0.1:{port}/#.allowed.example",
        f"http://127.0.0.1:{port}?.allowed.example",
        f"http://127.0.0.1:{port}/.allowed.example",
        f"http://%31%32%37.0.0.1:{port}/",
        f"http://127.0.0.%31:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://017700000001:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://0x7f.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://127.0.1:{port}/",
        f"http://127.000.000.001:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"http://127.0.0.2.:{port}/",
        f"HTTP://127.0.0.1:{port}/",
        f"http://127\u30020\u30020\u30021:{port}/",
        f"http:\\\\127.0.0.1:{port}/",
        f"http:/127.0.0.1:{port}/",
        f"http://localhost:{port}/",
        f"http://LOCALHOST:{port}/",
        f"http://127.0.0.1:{port}/",
    ]
    return out


def tcp_tricks(port: int) -> list[str]:
    return [
        f"127.0.0.2@127.0.0.1:{port}",
        f"127.0.0.1:{port}#@127.0.0.2",
        f"127.0.0.1:{port}?@127.0.0.2",
        f"127.0.0.1:{port}/@127.0.0.2",
        f"[::ffff:127.0.0.1]:{port}",
        f"[::ffff:7f00:1]:{port}",
        f"[127.0.0.1]:{port}",
        f"2130706433:{port}",
        f"0x7f000001:{port}",
        f"0177.0.0.1:{port}",
        f"127.1:{port}",
        f"127.000.000.001:{port}",
        f"127.0.0.1.:{port}",
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        f"http://127.0.0.1:{port}#@127.0.0.2",
        f"tcp://127.0.0.2@127.0.0.1:{port}",
        f"127.0.0.1:{port}",
        f" 127.0.0.1:{port}",
        f"127.0.0.1:0{port}",
    ]


def test_probe_url_tricks_refused_without_a_connection(
        tmp_path: Path, listeners: tuple[Tarpit, Tarpit]) -> None:
    allowed, forbidden = listeners
    cfg = {
        "site": "kantor-ssrf", "host": {"enabled": False},
        "probe_modules": {
            "http_net": {"type": "http", "timeout": "1s", "targets": ["127.0.0.2/32"]},
            "http_name": {"type": "http", "timeout": "1s", "targets": ["*.allowed.example"]},
            "tcp_net": {"type": "tcp", "timeout": "1s", "targets": ["127.0.0.2/32"]},
            "tcp_name": {"type": "tcp", "timeout": "1s", "targets": ["*.allowed.example"]},
        },
    }
    with run_agent(cfg, tmp_path) as agent:
        # the controls: an allowed target is probed, so a bypass would be seen connecting
        assert _status(agent.url, "http_net", f"http://127.0.0.2:{allowed.port}/")[0] == 200
        assert _status(agent.url, "tcp_net", f"127.0.0.2:{allowed.port}")[0] == 200
        assert allowed.count(at_least=2) == 2

        let_through: list[tuple[str, str, int]] = []
        tried = 0
        for module, tricks in (("http_net", http_tricks(forbidden.port)),
                               ("http_name", http_tricks(forbidden.port)),
                               ("tcp_net", tcp_tricks(forbidden.port)),
                               ("tcp_name", tcp_tricks(forbidden.port))):
            for target in tricks:
                before = forbidden.accepted
                status, _ = _status(agent.url, module, target)
                tried += 1
                time.sleep(0.01)
                if status != 403 or forbidden.accepted != before:
                    let_through.append((module, target, status))
        time.sleep(0.3)
        assert tried > 150
        assert let_through == [], f"{len(let_through)} of {tried}: {let_through}"
        assert forbidden.accepted == 0
        assert allowed.accepted == 2


class _Redirector(http.server.BaseHTTPRequestHandler):
    location = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_probe_redirect_must_pass_the_allow_list(
        tmp_path: Path, listeners: tuple[Tarpit, Tarpit]) -> None:
    _, forbidden = listeners
    _Redirector.location = f"http://127.0.0.1:{forbidden.port}/"
    srv = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Redirector)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg = {
        "site": "kantor-ssrf", "host": {"enabled": False},
        "probe_modules": {
            "http_net": {"type": "http", "timeout": "1s", "targets": ["127.0.0.2/32"]},
        },
    }
    try:
        with run_agent(cfg, tmp_path) as agent:
            status, body = _status(agent.url, "http_net",
                                   f"http://127.0.0.2:{srv.server_address[1]}/")
            assert status == 200
            assert "is not allowed by the probe module" in body, body
            time.sleep(0.3)
            assert forbidden.accepted == 0
    finally:
        srv.shutdown()
        srv.server_close()
