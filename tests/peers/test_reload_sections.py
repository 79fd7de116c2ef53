"""Reload and the section jobs: SNMP devices, the SNMP trap listener, SSH checks and the
playbook-run counter. An unchanged one keeps running through SIGHUP with its schedule and
last result, like the checks do (issue 13, item 4): no missing series, no extra requests
at the real snmpd and sshd, and a device whose config changed is restarted."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from collectors.ssh.session import enrol_host_key, fetch_host_key
from tests.helpers.agent import Series, pick, run_agent
from tests.helpers.snmpd import Snmpd, free_udp_port, running_snmpd
from tests.helpers.sshd import Sshd, SshUser
from tests.helpers.waiting import wait_until

SNMP_IN_PKTS = "1.3.6.1.2.1.11.1.0"  # SNMPv2-MIB snmpInPkts: every datagram snmpd took in
INTERVAL = 5.0
RELOADS = 15


def _in_packets(snmpd: Snmpd) -> int:
    """snmpInPkts, minus the one datagram this very read adds."""
    r = subprocess.run(["snmpget", "-v2c", "-c", "public", "-r1", "-t1", "-Oqv", "-On",
                        snmpd.target, SNMP_IN_PKTS], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip()) - 1


def _ssh_connections(sshd: Sshd) -> int:
    return sshd.log.read_text(errors="replace").count("Connection from 127.0.0.1")


def _config(tmp_path: Path, a: Snmpd, b: Snmpd, sshd: Sshd, user: SshUser,
            b_labels: dict[str, str], traps_port: int) -> dict[str, Any]:
    device = {"auth": "lab", "interval": f"{INTERVAL:g}s", "timeout": "1s", "retries": 0}
    return {
        "site": "kantor-reload", "host": {"enabled": False},
        "state_dir": str(tmp_path / "state"),
        "snmp": {"auths": {"lab": {"community": "public"}},
                 "devices": [{"name": "sw-tetap", "address": a.target, **device},
                             {"name": "sw-ubah", "address": b.target, "labels": b_labels,
                              **device}],
                 "traps": {"listen": f"127.0.0.1:{traps_port}", "auths": ["lab"]}},
        "ssh": {"known_hosts": str(tmp_path / "known_hosts"),
                "credentials": {"k": {"user": user.name, "key_file": str(user.key)}},
                "hosts": {"srv": {"address": sshd.target, "credential": "k"}}},
        "checks": [{"name": "server", "type": "ssh", "target": sshd.target, "credential": "k",
                    "mode": "linux", "interval": f"{INTERVAL:g}s", "timeout": "4s"}],
    }


def _watched(m: dict[Series, float]) -> dict[str, list[float]]:
    return {
        "sw-tetap": pick(m, "pantau_snmp_up", device="sw-tetap"),
        "sw-ubah": pick(m, "pantau_snmp_up", device="sw-ubah"),
        "server": pick(m, "pantau_ssh_up", check="server"),
        "traps": pick(m, "pantau_collector_success", collector="snmp_traps"),
        "playbook-runs": pick(m, "pantau_collector_success", collector="playbook_runs"),
    }


def _runs(m: dict[Series, float], source: str) -> float:
    got = pick(m, "pantau_collector_runs_total", source=source)
    assert len(got) == 1, (source, got)
    return got[0]


def test_reload_storm_leaves_unchanged_snmp_and_ssh_jobs_alone(
        tmp_path: Path, sshd: Sshd, user: SshUser) -> None:
    enrol_host_key(tmp_path / "known_hosts", "127.0.0.1", sshd.port,
                   fetch_host_key("127.0.0.1", sshd.port))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    conf = ["rocommunity public default", "sysName reload-lab"]
    with running_snmpd(tmp_path / "a", conf) as a, running_snmpd(tmp_path / "b", conf) as b:
        cfg = _config(tmp_path, a, b, sshd, user, {"lantai": "1"}, free_udp_port())
        with run_agent(cfg, tmp_path / "agent") as agent:
            m = agent.wait_for(lambda m: m if all(v == [1.0] for v in _watched(m).values())
                               else None)
            # what one poll of a device costs at snmpd, measured between two polls
            runs0, pkts0 = _runs(m, "sw-tetap"), _in_packets(a)
            agent.wait_for(lambda m: _runs(m, "sw-tetap") == runs0 + 1, timeout=3 * INTERVAL)
            per_poll = _in_packets(a) - pkts0
            assert per_poll >= 1

            before = {"a": _in_packets(a), "b": _in_packets(b), "ssh": _ssh_connections(sshd)}
            m = agent.scrape()
            runs = {s: _runs(m, s) for s in ("sw-tetap", "sw-ubah", "server", "snmp-traps",
                                             "playbook-runs")}
            missing: dict[str, int] = {}
            restarted: dict[str, int] = {}
            scrapes = 0
            started = time.monotonic()
            for _ in range(RELOADS):
                agent.signal(signal.SIGHUP)
                until = time.monotonic() + 0.7  # longer than a restarted job's first-run jitter
                while time.monotonic() < until:
                    m = agent.scrape()
                    scrapes += 1
                    for name, values in _watched(m).items():
                        if values != [1.0]:
                            missing[name] = missing.get(name, 0) + 1
                    for source, last in runs.items():  # a restarted job starts again at 1
                        seen = pick(m, "pantau_collector_runs_total", source=source)
                        if not seen:
                            missing[f"{source} runs"] = missing.get(f"{source} runs", 0) + 1
                            continue
                        now = seen[0]
                        if now < last:
                            restarted[source] = restarted.get(source, 0) + 1
                        runs[source] = now
                    time.sleep(0.1)
            elapsed = time.monotonic() - started
            wait_until(lambda: agent.log_text().count("configuration reloaded") >= RELOADS,
                       10, "every reload applied")

            # the schedule, not the reloads, decides how often each device is polled
            polls = elapsed / INTERVAL + 2
            got = {"a": _in_packets(a) - before["a"], "b": _in_packets(b) - before["b"],
                   "ssh": _ssh_connections(sshd) - before["ssh"]}
            print(f"{RELOADS} reloads in {elapsed:.1f}s, {scrapes} scrapes; missing {missing}, "
                  f"restarted {restarted}; requests {got} (one poll: {per_poll} datagrams, "
                  f"allowed {polls:.1f} polls)")
            assert missing == {}, f"missing from {missing} of {scrapes} scrapes"
            assert restarted == {}, restarted
            assert agent.log_text().count("5 job(s) unchanged and still running, 0 (re)started"
                                          ) == RELOADS
            assert got["a"] <= polls * per_poll, (got, per_poll, elapsed)
            assert got["b"] <= polls * per_poll, (got, per_poll, elapsed)
            assert got["ssh"] <= polls, (got, elapsed)

            # a changed device is restarted (polled at once, its run count starts over),
            # the unchanged ones are not
            m = agent.scrape()
            kept, b_runs = _runs(m, "sw-tetap"), _runs(m, "sw-ubah")
            b_before = _in_packets(b)
            cfg["snmp"]["devices"][1]["labels"] = {"lantai": "2"}
            agent.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            agent.signal(signal.SIGHUP)
            wait_until(lambda: "4 job(s) unchanged and still running, 1 (re)started"
                       in agent.log_text(), 10, "the changed device restarted")
            m = agent.wait_for(lambda m: m if pick(m, "pantau_snmp_up", device="sw-ubah",
                                                   lantai="2") == [1.0] else None,
                               timeout=2 * INTERVAL)
            assert not pick(m, "pantau_snmp_up", lantai="1")
            assert _runs(m, "sw-ubah") < b_runs  # a new job, counting from 1 again
            assert _runs(m, "sw-tetap") >= kept
            assert _in_packets(b) > b_before
