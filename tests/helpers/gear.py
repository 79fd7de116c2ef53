"""The tests' 24-port switch: net-snmp snmpd in a network namespace holding 24 veth ports
(every fourth one down, ifAlias set as an admin would), a peer namespace to push traffic
across them, and the kernel's own counters to bracket what SNMP reports."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.snmpd import Snmpd

IFACES = 24
V3_USER = {"username": "pantauv3", "auth_protocol": "SHA", "auth_password": "authpass-123",
           "priv_protocol": "AES", "priv_password": "privpass-123"}


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {r.stderr}")
    return r.stdout


@dataclass
class Gear:
    ns: str
    peer: str
    address: str
    port: int
    workdir: Path
    extra_conf: Sequence[str] = ()
    snmpd: Snmpd | None = None
    ifindex: dict[str, str] = field(default_factory=dict)  # ga0 -> its ifIndex

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def start_snmpd(self) -> None:
        u = V3_USER
        self.snmpd = Snmpd(self.workdir, [
            "rocommunity public default", "rwcommunity private default",
            f'createUser {u["username"]} {u["auth_protocol"]} "{u["auth_password"]}" '
            f'{u["priv_protocol"]} "{u["priv_password"]}"',
            f"rouser {u['username']} priv", "sysName gear-lab", "sysLocation lab",
            *self.extra_conf], address=self.address, port=self.port, netns=self.ns)
        self.snmpd.start()

    def stop_snmpd(self) -> None:
        if self.snmpd is not None:
            self.snmpd.stop()

    def counters(self) -> dict[str, dict[str, int]]:
        out = {}
        for i in range(IFACES):
            dev = f"ga{i}"
            stats = {}
            for f in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
                stats[f] = int(sh("ip", "netns", "exec", self.ns, "cat",
                                  f"/sys/class/net/{dev}/statistics/{f}").strip())
            out[dev] = stats
        return out

    def traffic(self) -> None:
        for i in range(0, IFACES, 2):  # even ports are all up (every fourth odd one is down)
            sh("ip", "netns", "exec", self.peer, "fping", "-c", "20", "-p", "10", "-b", "1000",
               "-q", f"10.79.{i}.1", timeout=30)


@contextlib.contextmanager
def gear_lab(workdir: Path, extra_conf: Sequence[str] = ()) -> Iterator[Gear]:
    """Build the namespaces and ports, start snmpd, set every port's ifAlias; tear all down."""
    tag = secrets.token_hex(3)
    ns, peer = f"pt-snmp-{tag}", f"pt-snmpp-{tag}"
    root_if = f"psn{tag}"
    # a random /30 in the root namespace: runs in parallel must not route to each other's snmpd
    net = f"10.{100 + secrets.randbelow(100)}.{secrets.randbelow(256)}"
    g = Gear(ns, peer, f"{net}.2", 161, workdir, tuple(extra_conf))
    try:
        for n in (ns, peer):
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
            # No IPv6 on the gear's ports: router solicitations (70 bytes each, seconds after
            # link-up) would move idle counters between the kernel reads and snmpd's cache.
            for scope in ("all", "default"):
                sh("ip", "netns", "exec", n, "sysctl", "-qw",
                   f"net.ipv6.conf.{scope}.disable_ipv6=1")
        sh("ip", "link", "add", root_if, "type", "veth", "peer", "name", "up0", "netns", ns)
        sh("ip", "addr", "add", f"{net}.1/30", "dev", root_if)
        sh("ip", "link", "set", root_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{net}.2/30", "dev", "up0")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
        for i in range(IFACES):
            sh("ip", "-n", ns, "link", "add", f"ga{i}", "type", "veth", "peer", "name",
               f"gb{i}", "netns", peer)
            if i % 4 != 3:  # every fourth port stays down
                sh("ip", "-n", ns, "addr", "add", f"10.79.{i}.1/30", "dev", f"ga{i}")
                sh("ip", "-n", peer, "addr", "add", f"10.79.{i}.2/30", "dev", f"gb{i}")
                sh("ip", "-n", ns, "link", "set", f"ga{i}", "up")
                sh("ip", "-n", peer, "link", "set", f"gb{i}", "up")
        g.start_snmpd()
        for i in range(IFACES):  # net-snmp keeps ifAlias itself: set it the way an admin would
            index = sh("ip", "-n", ns, "-o", "link", "show", f"ga{i}").split(":")[0]
            g.ifindex[f"ga{i}"] = index
            sh("snmpset", "-v2c", "-c", "private", g.target,
               f"1.3.6.1.2.1.31.1.1.1.18.{index}", "s", f"ruang-{i}")
        yield g
    finally:
        g.stop_snmpd()
        with contextlib.suppress(AssertionError):
            sh("ip", "link", "del", root_if, check=False)
        for n in (ns, peer):
            sh("ip", "netns", "del", n, check=False)
