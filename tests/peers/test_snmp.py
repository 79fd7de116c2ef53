"""SNMP against a real net-snmp snmpd in a network namespace holding dozens of veth interfaces,
side by side with the kernel's own counters and with prometheus-snmp-exporter."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.base import Context, Deadline
from collectors.snmp import SnmpSection
from tests.helpers.agent import parse_metrics, pick, run_agent
from tests.helpers.exporters import run_exporter
from tests.helpers.gear import IFACES, V3_USER, Gear, gear_lab

V3 = {"version": "3", **V3_USER}


@pytest.fixture
def gear(tmp_path: Path) -> Iterator[Gear]:
    with gear_lab(tmp_path) as g:
        yield g


def section(gear: Gear, auth: dict[str, Any], **dev: Any) -> SnmpSection:
    return SnmpSection.model_validate({
        "auths": {"a": auth},
        "devices": [{"name": "sw-lab", "address": f"{gear.address}:{gear.port}", "auth": "a",
                     "timeout": "1s", "retries": 1, **dev}]})


def poll(sec: SnmpSection, collector: Any = None) -> tuple[Any, Any]:
    job = sec.jobs("lab")[0]
    coll = collector or job.factory()

    async def run() -> Any:
        return await coll.collect(Context(Deadline(job.timeout), "lab", job.name))

    return asyncio.run(run()), coll


def series(obs: Any, name: str) -> dict[str, float]:
    return {dict(s.labels).get("ifname", ""): s.value for s in obs.samples if s.name == name}


SNMP_EXPORTER_YML = {
    "if_mib": {
        "version": 2, "auth": {"community": "public"},
        "walk": ["1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.31.1.1.1.1",
                 "1.3.6.1.2.1.2.2.1.8"],
        "metrics": [
            {"name": n, "oid": o, "type": t,
             "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
             "lookups": [{"labels": ["ifIndex"], "labelname": "ifName",
                          "oid": "1.3.6.1.2.1.31.1.1.1.1", "type": "DisplayString"}]}
            for n, o, t in (("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
                            ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
                            ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"))
        ],
    }
}


@contextlib.contextmanager
def snmp_exporter(tmp_path: Path) -> Iterator[str]:
    cfg = tmp_path / "snmp.yml"
    cfg.write_text(yaml.safe_dump(SNMP_EXPORTER_YML))
    with run_exporter("prometheus-snmp-exporter", cfg, tmp_path / "snmp_exporter.log") as url:
        yield url


def test_counters_match_kernel_and_snmp_exporter(gear: Gear, tmp_path: Path) -> None:
    sec = section(gear, {"community": "public"})
    gear.traffic()
    time.sleep(6)  # net-snmp serves interface counters from a cache that lives ~5 s
    with snmp_exporter(tmp_path) as url:
        before = gear.counters()
        obs, _ = poll(sec)
        with urllib.request.urlopen(
                f"{url}/snmp?module=if_mib&target={gear.address}:{gear.port}", timeout=20) as r:
            theirs = parse_metrics(r.read().decode())
        after = gear.counters()
    assert obs.success, obs.reason
    in_oct = series(obs, "pantau_if_in_octets_total")
    out_oct = series(obs, "pantau_if_out_octets_total")
    oper = series(obs, "pantau_if_oper_up")
    alias = {dict(s.labels)["ifname"]: dict(s.labels)["ifalias"] for s in obs.samples
             if s.name == "pantau_if_oper_up"}
    assert len([n for n in in_oct if n.startswith("ga")]) == IFACES
    moved = 0
    for i in range(IFACES):
        dev = f"ga{i}"
        assert alias[dev] == f"ruang-{i}"
        assert oper[dev] == (0.0 if i % 4 == 3 else 1.0), dev
        lo, hi = before[dev], after[dev]
        assert lo["rx_bytes"] <= in_oct[dev] <= hi["rx_bytes"], (dev, lo, in_oct[dev], hi)
        assert lo["tx_bytes"] <= out_oct[dev] <= hi["tx_bytes"], (dev, lo, out_oct[dev], hi)
        ex_in = pick(theirs, "ifHCInOctets_total", ifName=dev)
        ex_oper = pick(theirs, "ifOperStatus", ifName=dev)
        assert ex_in, sorted({n for n, _ in theirs})
        assert lo["rx_bytes"] <= ex_in[0] <= hi["rx_bytes"], (dev, ex_in, lo, hi)
        assert ex_oper and (ex_oper[0] == 1.0) == (oper[dev] == 1.0)
        moved += in_oct[dev] > 20 * 1000
    assert moved >= IFACES // 3  # the traffic really crossed the interfaces we pinged across


def test_v3_authpriv_and_wrong_credentials(gear: Gear) -> None:
    obs, _ = poll(section(gear, V3, profiles=["system", "if_mib"]))
    assert obs.success, obs.reason
    info = [dict(s.labels) for s in obs.samples if s.name == "pantau_snmp_system_info"]
    assert info[0]["sysname"] == "gear-lab"
    obs, _ = poll(section(gear, {**V3, "auth_password": "salah-banget"}))
    assert not obs.success and "authentication failed" in obs.reason
    obs, _ = poll(section(gear, {"community": "salah"}))
    assert not obs.success and "wrong community" in obs.reason
    up = [s.value for s in obs.samples if s.name == "pantau_snmp_up"]
    assert up == [0.0]


def test_dead_device_reported_within_timeout_times_retries(tmp_path: Path) -> None:
    with sockets_free_port() as port:
        sec = SnmpSection.model_validate({
            "auths": {"a": {"community": "public"}},
            "devices": [{"name": "dead", "address": f"127.0.0.1:{port}", "auth": "a",
                         "timeout": "500ms", "retries": 2}]})
        t0 = time.monotonic()
        obs, _ = poll(sec)
        took = time.monotonic() - t0
    assert not obs.success and "no response" in obs.reason
    assert took <= 0.5 * 3 + 0.5, took


@contextlib.contextmanager
def sockets_free_port() -> Iterator[int]:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


def test_restart_is_a_reboot_without_spike(gear: Gear) -> None:
    sec = section(gear, V3)
    gear.traffic()
    first, coll = poll(sec)
    assert first.success, first.reason
    gear.stop_snmpd()
    time.sleep(1.2)  # down for a while, as a rebooting switch is: engine time restarts at 0
    gear.start_snmpd()  # returns once the restarted snmpd answers
    # v3: the engine must re-discover the restarted agent's boots/time within this very poll
    second, coll = poll(sec, coll)
    assert second.success, second.reason
    reboots = [s.value for s in second.samples
               if s.name == "pantau_snmp_counter_discontinuities_total"
               and dict(s.labels)["reason"] == "reboot"]
    up1 = [s.value for s in first.samples if s.name == "pantau_snmp_uptime_seconds"]
    up2 = [s.value for s in second.samples if s.name == "pantau_snmp_uptime_seconds"]
    assert reboots == [1.0], (up1, up2, coll.state)
    # a kernel interface counter does not restart with snmpd, so no drop and no spike: the
    # increase between the two polls is what the kernel counted, never more than the speed
    a, b = series(first, "pantau_if_in_octets_total"), series(second, "pantau_if_in_octets_total")
    for dev in a:
        assert 0 <= b[dev] - a[dev] < 10_000_000, dev


def test_32bit_wrap_extension_and_reset() -> None:
    from collectors.snmp import SnmpCollector
    from collectors.snmp.collector import SnmpAuth, SnmpDevice

    coll = SnmpCollector(SnmpDevice(name="x", address="127.0.0.1", auth="a"),
                         SnmpAuth(community="c"))
    speed = 1e9
    v = coll._extend32("1", "pantau_if_in_octets_total", 4_294_000_000, speed, 30)
    assert v == 4_294_000_000
    # wrapped: 967,296 bytes in 30 s fits 1 Gbit/s -> +2^32
    assert coll._extend32("1", "pantau_if_in_octets_total", 1000, speed, 30) == 2**32 + 1000
    # a drop that would need 9 Gbit/s on a 1 Gbit/s port is a reset, not a wrap
    v = coll._extend32("1", "pantau_if_in_octets_total", 500, speed, 0.001)
    assert v == 500
    assert coll.state.discontinuities == {"wrap": 1, "reset": 1}
    # an agent restart (reboot detected) while the device counters kept running: the extended
    # series restarts at 0 instead of dropping to the raw value (no phantom 4 GiB)
    coll._extend32("1", "pantau_if_in_octets_total", 1_000_000, speed, 30)
    coll.state.last_uptime, coll.state.last_uptime_at = 100_000.0, time.time()
    coll._detect_reboot(50.0, None)
    assert coll._extend32("1", "pantau_if_in_octets_total", 2_000_000, speed, 30) == 0
    assert coll._extend32("1", "pantau_if_in_octets_total", 3_000_000, speed, 30) == 1_000_000


def test_through_the_agent(gear: Gear, tmp_path: Path) -> None:
    cfg = {"site": "kantor-snmp", "host": {"enabled": False},
           "snmp": {"auths": {"lab": V3, "wrong": {"community": "salah"}},
                    "devices": [
                        {"name": "sw-lab", "address": f"{gear.address}:{gear.port}",
                         "auth": "lab", "interval": "5s", "timeout": "1s"},
                        {"name": "sw-wrong", "address": f"{gear.address}:{gear.port}",
                         "auth": "wrong", "interval": "5s", "timeout": "1s", "retries": 0}]}}
    with run_agent(cfg, tmp_path) as agent:
        m = agent.wait_for(lambda m: pick(m, "pantau_snmp_up", device="sw-lab") == [1.0]
                           and pick(m, "pantau_snmp_up", device="sw-wrong") == [0.0] and m)
        assert pick(m, "pantau_if_oper_up", device="sw-lab", ifname="ga0", site="kantor-snmp")
        log = agent.log_text()
        assert "sw-wrong" in log and "wrong community" in log
        assert "privpass-123" not in log and "salah" not in log
        assert "privpass-123" not in agent.metrics_text()
