"""The two report sources — the agent's own outage history and a real Prometheus that scraped
the agent — agree on the same run within one scrape interval."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import load_config
from agent.reports.build import build
from tests.helpers.agent import pick, run_agent
from tests.helpers.prometheus import run_prometheus

SCRAPE = 1.0


class Service:
    """A TCP service on loopback the test can stop and start (the 'portal')."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self.sock = sock

        def accept() -> None:
            while self.sock is sock:
                try:
                    conn, _ = sock.accept()
                    conn.close()
                except OSError:
                    continue

        self._thread = threading.Thread(target=accept, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        sock, self.sock = self.sock, None
        if self._thread:
            self._thread.join(timeout=5)
        if sock:
            sock.close()


def test_history_and_prometheus_agree(tmp_path: Path) -> None:
    svc = Service()
    svc.start()
    cfg = {
        "site": "kantor-sla",
        "host": {"enabled": False},
        "checks": [{"name": "portal", "type": "tcp", "target": f"127.0.0.1:{svc.port}",
                    "interval": "1s", "timeout": "500ms"}],
        "alerts": {"damping": {"failures": 1, "successes": 1}},
        "reports": {"timezone": "WIB", "slo": 0.9},
    }
    try:
        with run_agent(cfg, tmp_path) as agent:
            scrape = [{"job_name": "pantau", "scrape_interval": f"{SCRAPE:g}s",
                       "static_configs": [{"targets": [agent.url.removeprefix("http://")]}]}]
            with run_prometheus(tmp_path, scrape) as prom:
                prom.wait_for('pantau_check_up{check="portal"} == 1')
                time.sleep(3)
                for down, up in ((5, 6), (4, 5)):
                    svc.stop()
                    agent.wait_for(lambda m: pick(m, "pantau_check_up", check="portal") == [0.0])
                    time.sleep(down)
                    svc.start()
                    agent.wait_for(lambda m: pick(m, "pantau_check_up", check="portal") == [1.0])
                    time.sleep(up)
                time.sleep(2 * SCRAPE)
                now = datetime.now(UTC)
                period = (now - timedelta(hours=1), now + timedelta(hours=1))
                config = load_config(agent.config_path)
                local = build(config, period, now=now)
                central = build(config, period, prometheus=prom.url, step=SCRAPE, now=now)
    finally:
        svc.stop()
    (lrow,) = [r for r in local.rows if r.check == "portal"]
    (crow,) = [r for r in central.rows if r.check == "portal" and r.site == "kantor-sla"]
    assert lrow.outage_count == crow.outage_count == 2
    for lo, co in zip(lrow.outages, crow.outages, strict=True):
        assert lo.outage.end is not None and co.outage.end is not None
        assert abs((co.outage.start - lo.outage.start).total_seconds()) <= SCRAPE + 0.25, (
            lo.outage, co.outage)
        assert abs((co.outage.end - lo.outage.end).total_seconds()) <= SCRAPE + 0.25, (
            lo.outage, co.outage)
    assert abs(lrow.downtime_seconds - crow.downtime_seconds) <= 2 * SCRAPE + 0.5
