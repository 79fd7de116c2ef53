"""`pantau snmp walk` and `pantau snmp test` against a real snmpd on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import run_cli, write_config
from tests.helpers.snmpd import free_udp_port, running_snmpd


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[int]:
    with running_snmpd(tmp_path, ["rocommunity kantor-ro 127.0.0.1", "sysName sw-cli"]) as s:
        yield s.port


def _config(tmp_path: Path, port: int) -> Path:
    dead = free_udp_port()
    return write_config({
        "site": "kantor-cli", "host": {"enabled": False},
        "snmp": {"auths": {"ro": {"community": "kantor-ro"}, "bad": {"community": "salah"}},
                 "devices": [
                     {"name": "sw-cli", "address": f"127.0.0.1:{port}", "auth": "ro"},
                     {"name": "sw-wrong", "address": f"127.0.0.1:{port}", "auth": "bad",
                      "timeout": "500ms", "retries": 0},
                     {"name": "sw-dead", "address": f"127.0.0.1:{dead}", "auth": "ro",
                      "timeout": "500ms", "retries": 0}]}}, tmp_path)


def test_walk_and_test_commands(snmpd: int, tmp_path: Path) -> None:
    cfg = str(_config(tmp_path, snmpd))
    r = run_cli("snmp", "walk", "sw-cli", "1.3.6.1.2.1.1", "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert "1.3.6.1.2.1.1.5.0 = sw-cli" in r.stdout.splitlines()
    r = run_cli("snmp", "test", "sw-cli", "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sw-cli (127.0.0.1:") and "OK in" in r.stdout
    assert "sysName 'sw-cli'" in r.stdout


def test_failures_are_one_line_without_secrets(snmpd: int, tmp_path: Path) -> None:
    cfg = str(_config(tmp_path, snmpd))
    for device in ("sw-wrong", "sw-dead"):
        r = run_cli("snmp", "test", device, "--config", cfg)
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith(f"pantau: error: {device} (127.0.0.1:")
        assert "no response" in r.stderr.strip().splitlines()[-1]
        assert "salah" not in r.stderr + r.stdout
    r = run_cli("snmp", "walk", "nope", "--config", cfg)
    assert r.returncode == 2 and "unknown device 'nope'" in r.stderr
    r = run_cli("snmp", "walk", "sw-cli", "1.3.x", "--config", cfg)
    assert r.returncode == 2 and "invalid OID" in r.stderr
