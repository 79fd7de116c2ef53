"""The blackbox-style /probe endpoint probes only what the config allows, honours the scrape
timeout header, and `pantau probe` runs one check from the command line."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import parse_metrics, pick, run_agent, run_cli
from tests.helpers.tarpit import Tarpit
from tests.helpers.waiting import wait_until


@pytest.fixture
def servers() -> Iterator[tuple[Tarpit, Tarpit]]:
    with Tarpit() as a, Tarpit() as b:
        yield a, b


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, float]:
    t0 = time.monotonic()
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode(), time.monotonic() - t0
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), time.monotonic() - t0


def test_probe_only_what_config_allows(tmp_path: Path,
                                       servers: tuple[Tarpit, Tarpit]) -> None:
    allowed, forbidden = servers
    cfg = {
        "site": "kantor-probe", "host": {"enabled": False},
        "probe_modules": {
            "tcp_portal": {"type": "tcp", "timeout": "10s",
                           "targets": [f"127.0.0.1:{allowed.port}"]},
            "tcp_banner": {"type": "tcp", "timeout": "10s", "options": {"expect": "^SSH-"},
                           "targets": [f"127.0.0.1:{allowed.port}"]},
            "ping_loopback": {"type": "icmp", "targets": ["127.0.0.0/8"],
                              "options": {"count": 2, "packet_interval": "10ms"}},
        },
    }
    with run_agent(cfg, tmp_path) as agent:
        base = agent.url + "/probe"
        status, body, _ = _get(f"{base}?module=tcp_portal&target=127.0.0.1:{allowed.port}")
        assert status == 200, body
        m = parse_metrics(body)
        assert pick(m, "pantau_probe_success", type="tcp", site="kantor-probe") == [1.0]
        assert allowed.count(at_least=1) == 1

        # not in the allow-list: refused before any connection is made
        status, body, _ = _get(f"{base}?module=tcp_portal&target=127.0.0.1:{forbidden.port}")
        assert status == 403 and "not allowed" in body
        status, _, _ = _get(f"{base}?module=ping_loopback&target=10.1.2.3")
        assert status == 403
        status, _, _ = _get(f"{base}?module=ping_loopback&target=localhost.evil.example")
        assert status == 403
        status, body, _ = _get(f"{base}?module=nope&target=127.0.0.1")
        assert status == 400 and "unknown module" in body
        status, _, _ = _get(f"{base}?module=tcp_portal")
        assert status == 400
        wait_until(lambda: allowed.accepted == 1, 5.0, "the allowed probe's connection")
        assert forbidden.accepted == 0

        status, body, _ = _get(f"{base}?module=ping_loopback&target=127.0.0.9")
        assert status == 200
        assert pick(parse_metrics(body), "pantau_icmp_packet_loss_ratio") == [0.0]

        # the server never sends a banner: the probe waits until its timeout, which the
        # scrape timeout header lowers (minus blackbox's 0.5 s offset)
        status, body, took = _get(f"{base}?module=tcp_banner&target=127.0.0.1:{allowed.port}",
                                  {"X-Prometheus-Scrape-Timeout-Seconds": "2"})
        assert status == 200
        assert pick(parse_metrics(body), "pantau_probe_success") == [0.0]
        assert 1.0 <= took < 3.0, took


def test_pantau_probe_cli(servers: tuple[Tarpit, Tarpit]) -> None:
    allowed, _ = servers
    r = run_cli("probe", "tcp", f"127.0.0.1:{allowed.port}", "--json", "--timeout", "3s")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["success"] is True and data["type"] == "tcp"
    assert any(s["name"] == "pantau_probe_success" and s["value"] == 1 for s in data["samples"])

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = run_cli("probe", "tcp", f"127.0.0.1:{dead}", "--timeout", "2s")
    assert r.returncode == 1 and "connection refused" in r.stdout

    r = run_cli("probe", "icmp", "127.0.0.1", "--count", "2")
    assert r.returncode == 0 and "pantau_icmp_rtt_seconds" in r.stdout

    for bad in (["probe", "nosuch", "x"], ["probe", "icmp", "127.0.0.1", "--count", "0"],
                ["probe", "dns", "127.0.0.1", "--opt", "nonsense"],
                ["probe", "icmp", "127.0.0.1", "--timeout", "soon"]):
        r = run_cli(*bad)
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("pantau: error:")


def test_probe_module_config_errors(tmp_path: Path) -> None:
    f = tmp_path / "p.yml"
    f.write_text("site: x\nprobe_modules:\n  m:\n    type: icmpp\n    targets: ['*bad*']\n")
    r = run_cli("check-config", str(f))
    assert r.returncode == 2
    assert "probe_modules.m.type: unknown check type 'icmpp'" in r.stderr
    assert "probe_modules.m.targets: target pattern '*bad*'" in r.stderr
