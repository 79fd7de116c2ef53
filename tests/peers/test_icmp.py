"""The ICMP check and its shared-socket pinger, against the real kernel: loopback (IPv4 and
IPv6), raw and unprivileged datagram sockets, and a network namespace made by the test where
nftables drops chosen replies so loss and cross-talk can be checked exactly."""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import pick, run_agent

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "lab" / "probe_runner.py"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace with only loopback (127.0.0.0/8 and ::1): ours to drop packets in."""
    name = f"pt-icmp-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def run_checks(checks: list[dict[str, Any]], netns: str | None = None,
               prefix: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    cmd = [*prefix, sys.executable, str(RUNNER), json.dumps({"checks": checks, "runs": 1})]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        d = json.loads(line)
        if "name" in d:
            out[d["name"]] = d
    return out


def value(result: dict[str, Any], name: str, **labels: str) -> float:
    vals = [v for n, ls, v in result["samples"] if n == name and labels.items() <= ls.items()]
    assert len(vals) == 1, (name, labels, result)
    return float(vals[0])


def icmp(name: str, target: str, count: int = 3, timeout: str = "2s",
         interval: str = "10ms") -> dict[str, Any]:
    return {"name": name, "type": "icmp", "target": target, "count": count,
            "packet_interval": interval, "timeout": timeout, "interval": "1m"}


def test_loopback_v4_v6_raw() -> None:
    res = run_checks([icmp("v4", "127.0.0.1"), icmp("v4b", "127.0.0.2"), icmp("v6", "::1"),
                      icmp("name", "localhost")])
    for name in ("v4", "v4b", "v6", "name"):
        r = res[name]
        assert r["success"], r
        assert value(r, "pantau_icmp_packet_loss_ratio") == 0.0
        rtt_min = value(r, "pantau_icmp_rtt_seconds", stat="min")
        rtt_max = value(r, "pantau_icmp_rtt_seconds", stat="max")
        assert 0 < rtt_min <= value(r, "pantau_icmp_rtt_seconds", stat="avg") <= rtt_max < 0.5
        assert 0 <= value(r, "pantau_icmp_jitter_seconds") <= rtt_max - rtt_min
        assert value(r, "pantau_probe_success", type="icmp") == 1.0


def test_unprivileged_datagram_mode(netns: str) -> None:
    """Without CAP_NET_RAW, the kernel's ping sockets work when ping_group_range allows us."""
    sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
    drop_raw = ("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw")
    probe = subprocess.run(
        ["ip", "netns", "exec", netns, *drop_raw, sys.executable, "-c",
         "from collectors.probe.pinger import detect_mode; print(detect_mode())"],
        capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert probe.stdout.strip() == "dgram", probe.stderr
    res = run_checks([icmp("v4", "127.0.0.1"), icmp("v6", "::1")], netns, drop_raw)
    assert res["v4"]["success"] and res["v6"]["success"], res
    assert value(res["v4"], "pantau_icmp_packet_loss_ratio") == 0.0


def test_no_icmp_at_all_names_the_fix(netns: str) -> None:
    sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ping_group_range=1 0")
    drop_raw = ("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw")
    res = run_checks([icmp("v4", "127.0.0.1")], netns, drop_raw)
    r = res["v4"]
    assert not r["success"]
    assert "net.ipv4.ping_group_range" in r["reason"] and "CAP_NET_RAW" in r["reason"]


def _nft_drop_replies(netns: str, rule: str) -> None:
    script = (
        "table inet pantau_test {\n chain out {\n  type filter hook output priority 0;\n"
        f"  {rule}\n }}\n}}\n"
    )
    r = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script,
                       text=True, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_shared_socket_no_cross_talk(netns: str) -> None:
    """200 targets through one socket; replies of every 7th are dropped: exactly those show
    100 % loss, the others none."""
    _nft_drop_replies(
        netns, "icmp type echo-reply ip saddr { "
        + ", ".join(f"127.0.1.{i}" for i in range(1, 201) if i % 7 == 0) + " } drop")
    checks = [icmp(f"t{i}", f"127.0.1.{i}", count=3, timeout="2s") for i in range(1, 201)]
    res = run_checks(checks, netns)
    assert len(res) == 200
    for i in range(1, 201):
        r = res[f"t{i}"]
        loss = value(r, "pantau_icmp_packet_loss_ratio")
        if i % 7 == 0:
            assert loss == 1.0 and not r["success"], r
            assert "no reply" in r["reason"]
            assert r["duration"] < 2.5  # bounded by the deadline
        else:
            assert loss == 0.0 and r["success"], r


def test_random_loss_measured_within_tolerance(netns: str) -> None:
    """nftables drops 30 % of replies at random; with n=300 the measured loss must lie within
    4 standard deviations of the binomial: |loss - 0.3| <= 4*sqrt(0.3*0.7/300) = 0.106."""
    _nft_drop_replies(netns, "icmp type echo-reply numgen random mod 100 < 30 drop")
    res = run_checks([icmp("lossy", "127.0.0.1", count=300, timeout="8s", interval="5ms")],
                     netns)
    loss = value(res["lossy"], "pantau_icmp_packet_loss_ratio")
    assert abs(loss - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / 300), loss
    assert value(res["lossy"], "pantau_icmp_packets_sent") == 300


def test_agent_exposes_icmp_mode_and_results(tmp_path: Path) -> None:
    cfg = {"site": "kantor-icmp", "host": {"enabled": False},
           "checks": [icmp("gw", "127.0.0.1") | {"interval": "2s", "timeout": "1s"}]}
    with run_agent(cfg, tmp_path) as agent:
        m = agent.wait_for(lambda m: pick(m, "pantau_probe_success", check="gw") == [1.0] and m)
        info = [dict(ls) for (n, ls), _ in m.items() if n == "pantau_build_info"]
        assert info and info[0]["icmp_mode"] == "raw"
        assert pick(m, "pantau_icmp_packet_loss_ratio", check="gw", site="kantor-icmp") == [0.0]


FILTER_SCRIPT = r"""
import json, select, socket, struct, sys
sys.path.insert(0, ".")
from collectors.probe import pinger as P

ours = P._open(socket.AF_INET, "raw")
attached = P._set_ident_filter(ours, socket.AF_INET, 0x1234)
other = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

def packet(type_, ident, seq):
    body = b"pantau-filter-test"
    head = struct.pack("!BBHHH", type_, 0, 0, ident, seq)
    return struct.pack("!BBHHH", type_, 0, P.checksum(head + body), ident, seq) + body

# another pinger's echo request, ours, another one's again, and an ICMP error (type 3) as a
# router would send to a path probe: the error must pass whatever it quotes
for type_, ident, seq in ((8, 0x4321, 1), (8, 0x1234, 2), (8, 0x4321, 3), (3, 0x4321, 4)):
    other.sendto(packet(type_, ident, seq), ("127.0.0.1", 0))
got = []
for _ in range(20):  # bounded: 4 packets at most are expected
    if not select.select([ours], [], [], 0.5)[0]:
        break
    data = ours.recv(4096)
    got.append(list(struct.unpack_from("!BBHHH", data, (data[0] & 0x0F) * 4)))
print(json.dumps({"attached": attached, "got": got}))
"""


def test_raw_socket_drops_other_pingers_replies_in_kernel(netns: str) -> None:
    """The raw socket's BPF filter: an echo reply with another identifier (fping's, another
    agent's) never reaches pantau; ours and the ICMP errors path probes read still do."""
    r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", FILTER_SCRIPT],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["attached"] is True
    # (type, code, checksum, ident, seq): the echo reply to seq 2 and the type-3 packet only
    assert [(t, ident, seq) for t, _c, _s, ident, seq in out["got"]] == [
        (0, 0x1234, 2), (3, 0x4321, 4)], out
