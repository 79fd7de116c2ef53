"""Every query of every Grafana dashboard parses and returns data against a real Prometheus
that has scraped a running pantau with host, probe and SNMP data."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dashboards import generate
from tests.helpers.agent import free_port, pick, run_agent
from tests.helpers.procs import stop_process
from tests.helpers.prometheus import run_prometheus
from tests.helpers.waiting import wait_until
from tests.peers.test_snmp import Gear, gear  # noqa: F401 - the snmpd-in-a-namespace fixture

ROOT = Path(__file__).resolve().parents[2]
SITE = "kantor-dash"
VARS = {"$site": SITE, "$check": ".*", "$device": ".*", "$path": ".*", "$__rate_interval": "15s",
        "$__range": "2m", "$__interval": "5s", "${datasource}": "prometheus"}


def substitute(expr: str) -> str:
    for k in sorted(VARS, key=len, reverse=True):
        expr = expr.replace(k, VARS[k])
    return expr


class _Portal(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>Layanan perizinan</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """The permit portal over HTTP and over HTTPS (own CA): ports and the CA file."""
    import ssl

    from tests.helpers.certs import make_pki

    pki = make_pki(tmp_path)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    tls = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki["server"]), str(pki["server_key"]))
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (plain, tls)]
    for t in threads:
        t.start()
    try:
        yield int(plain.server_address[1]), int(tls.server_address[1]), pki["ca"]
    finally:
        for s in (plain, tls):
            s.shutdown()
            s.server_close()


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("dnsmasq")
    assert exe, "dnsmasq missing: run tests/install-deps.sh"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
         "--listen-address=127.0.0.1", f"--port={port}", "--user=root",
         f"--pid-file={tmp_path}/dnsmasq.pid", "--address=/portal.kab.test/127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # dnsmasq writes its pid file once its sockets are bound
        wait_until(lambda: (tmp_path / "dnsmasq.pid").exists() or proc.poll() is not None,
                   10.0, "dnsmasq listening")
        assert proc.poll() is None, "dnsmasq exited"
        yield port
    finally:
        stop_process(proc)


@pytest.fixture
def snmp_device(gear: Gear) -> dict[str, Any]:  # noqa: F811
    gear.traffic()
    return {"auths": {"lab": {"community": "public"}},
            "devices": [{"name": "sw-lab", "address": f"{gear.address}:{gear.port}",
                         "auth": "lab", "interval": "3s", "timeout": "1s",
                         "profiles": ["system", "if_mib", "ucd", "host_resources"]}]}


def test_every_dashboard_query_returns_data(tmp_path: Path, portal: tuple[int, int, Path],
                                            dnsmasq: int,
                                            snmp_device: dict[str, Any]) -> None:
    http_port, https_port, ca = portal
    cfg: dict[str, Any] = {
        "site": SITE,
        "host": {"interval": "2s", "timeout": "1s"},
        "checks": [
            {"name": "gateway", "type": "icmp", "target": "127.0.0.1", "interval": "2s",
             "timeout": "1s"},
            {"name": "dns", "type": "dns", "target": f"127.0.0.1:{dnsmasq}",
             "query_name": "portal.kab.test", "interval": "2s", "timeout": "1s",
             "depends_on": ["gateway"]},
            {"name": "portal", "type": "http", "target": f"http://127.0.0.1:{http_port}/",
             "interval": "2s", "timeout": "1s", "depends_on": ["dns"]},
            {"name": "portal-tls", "type": "http", "target": f"https://127.0.0.1:{https_port}/",
             "tls_config": {"ca_file": str(ca)}, "interval": "2s", "timeout": "1s"},
            {"name": "portal-tcp", "type": "tcp", "target": f"127.0.0.1:{http_port}",
             "interval": "2s", "timeout": "1s"},
            {"name": "portal-path", "type": "path", "target": "127.0.0.1", "probes": 3,
             "packet_interval": "50ms", "probe_timeout": "300ms", "interval": "2s",
             "timeout": "1s"},
        ],
        "snmp": snmp_device,
    }
    board_files = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
    assert len(board_files) == 6
    with run_agent(cfg, tmp_path) as agent:
        agent.wait_for(lambda m: pick(m, "pantau_snmp_up") == [1.0], timeout=30)
        scrape = [{"job_name": "pantau", "scrape_interval": "1s",
                   "static_configs": [{"targets": [agent.url.removeprefix("http://")]}]}]
        with run_prometheus(tmp_path, scrape) as prom:
            prom.wait_for('count(pantau_if_in_octets_total) > 0')
            time.sleep(20)  # enough samples for rate() over 15s windows
            failures: list[str] = []
            checked = 0
            for path in board_files:
                board = json.loads(path.read_text())
                for title, expr in generate.queries(board):
                    q = substitute(expr)
                    try:
                        result = prom.query(q)
                    except Exception as e:
                        failures.append(f"{path.name} / {title}: {q}: {e}")
                        continue
                    checked += 1
                    if not result:
                        failures.append(f"{path.name} / {title}: no data for {q}")
                for var in board["templating"]["list"]:
                    if var["type"] != "query":
                        continue
                    q = var["query"]["query"]
                    metric = q.split("(", 1)[1].rsplit(",", 1)[0]
                    label = q.rsplit(",", 1)[1].rstrip(") ").strip()
                    values = prom.api("series", **{"match[]": substitute(metric)})
                    if not any(label in s for s in values):
                        failures.append(f"{path.name} / variable {var['name']}: no values")
            assert checked >= 40
            assert not failures, "\n".join(failures)
