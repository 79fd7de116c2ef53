"""A small office network in network namespaces, for tests and benchmarks that need real hops.

    office (192.168.50.10) --lan-- router --uplink-- isp --transit-- internet (10.200.2.2)

Every address lives inside namespaces the lab creates; nothing leaves this machine. The
"internet" namespace runs the permit portal (HTTP :80, HTTPS :443 with a lab CA, HTTPS :8443
with an expired certificate), a DNS server (dnsmasq :53, zone lab.test) and a TCP banner
service (:2525). See tests/lab/README.md for the API.

    with OfficeLab() as lab:
        lab.exec("office", ["ping", "-c1", lab.addresses["internet"]])
        lab.cut("uplink"); lab.restore("uplink")
        lab.loss("uplink", 0.2)

`OfficeLab(second_uplink=True)` adds a second ISP with its own cable from the router
(router --uplink2-- isp2 --transit2-- internet, IPv4 only): the router NATs each uplink to its
own address and prefers `uplink`, falling over to `uplink2` when it is cut, as an office with
two ISPs does. Without the flag the lab is exactly the one-uplink network above.

Teardown is unconditional (context exit, atexit and a stale-namespace sweep at start): every
process the lab started is killed and its namespaces deleted, also when the test fails.
Namespace names carry the creating PID, so parallel runs never touch each other's labs and the
sweep only removes labs whose creator is gone.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.helpers.procs import stop_process
from tests.lab.netns import NetnsLab, _run

HERE = Path(__file__).resolve().parent
PREFIX = "plab"
@dataclass(frozen=True)
class _Part:
    """One piece of the network: the base office + first ISP, or the second ISP. The lab is
    the union of its parts, so the second ISP is described like the first, never built twice."""

    roles: tuple[str, ...]
    # link name -> (near side, far side); the interface has the link's name in both namespaces
    links: dict[str, tuple[str, str]]
    addresses: dict[str, str]
    ifaddrs: tuple[tuple[str, str, str], ...]  # (role, interface, address/prefix)
    routes: tuple[tuple[str, str, str, str], ...]  # (role, destination, via, metric or "")
    forwarders: tuple[str, ...]  # roles that forward packets


BASE = _Part(
    roles=("office", "router", "isp", "internet"),
    links={"lan": ("office", "router"), "uplink": ("router", "isp"),
           "transit": ("isp", "internet")},
    addresses={
        "office": "192.168.50.10",
        "router_lan": "192.168.50.1",
        "router_uplink": "10.200.1.1",
        "isp_uplink": "10.200.1.2",
        "isp_transit": "10.200.2.1",
        "internet": "10.200.2.2",
        # IPv6 (ULA, DAD off so they work at once)
        "office6": "fd00:50::10",
        "router_lan6": "fd00:50::1",
        "router_uplink6": "fd00:201::1",
        "isp_uplink6": "fd00:201::2",
        "isp_transit6": "fd00:202::1",
        "internet6": "fd00:202::2",
    },
    ifaddrs=(
        ("office", "lan", "192.168.50.10/24"),
        ("router", "lan", "192.168.50.1/24"),
        ("router", "uplink", "10.200.1.1/30"),
        ("isp", "uplink", "10.200.1.2/30"),
        ("isp", "transit", "10.200.2.1/30"),
        ("internet", "transit", "10.200.2.2/30"),
        ("office", "lan", "fd00:50::10/64"),
        ("router", "lan", "fd00:50::1/64"),
        ("router", "uplink", "fd00:201::1/64"),
        ("isp", "uplink", "fd00:201::2/64"),
        ("isp", "transit", "fd00:202::1/64"),
        ("internet", "transit", "fd00:202::2/64"),
    ),
    routes=(
        ("office", "default", "192.168.50.1", ""),
        ("router", "default", "10.200.1.2", ""),
        ("isp", "192.168.50.0/24", "10.200.1.1", ""),
        ("isp", "default", "10.200.2.2", ""),
        ("internet", "default", "10.200.2.1", ""),
        ("office", "default", "fd00:50::1", ""),
        ("router", "default", "fd00:201::2", ""),
        ("isp", "fd00:50::/64", "fd00:201::1", ""),
        ("isp", "default", "fd00:202::2", ""),
        ("internet", "default", "fd00:202::1", ""),
    ),
    forwarders=("router", "isp"),
)
# The second ISP (OfficeLab(second_uplink=True)): its own cable from the router, its own way
# into the internet namespace, IPv4 only. The router prefers uplink (metric 0): when that cable
# is cut the kernel drops the route and the metric-200 one through isp2 takes over. Replies find
# their way back because the router NATs each uplink to its own address (_ISP2_NAT), so the
# internet routes to both.
ISP2 = _Part(
    roles=("isp2",),
    links={"uplink2": ("router", "isp2"), "transit2": ("isp2", "internet")},
    addresses={
        "router_uplink2": "10.200.3.1",
        "isp2_uplink2": "10.200.3.2",
        "isp2_transit2": "10.200.4.1",
        "internet_transit2": "10.200.4.2",
    },
    ifaddrs=(
        ("router", "uplink2", "10.200.3.1/30"),
        ("isp2", "uplink2", "10.200.3.2/30"),
        ("isp2", "transit2", "10.200.4.1/30"),
        ("internet", "transit2", "10.200.4.2/30"),
    ),
    routes=(
        ("router", "default", "10.200.3.2", "200"),
        ("isp2", "default", "10.200.4.2", ""),
        ("internet", "10.200.3.0/30", "10.200.4.1", ""),
    ),
    forwarders=("isp2",),
)
_ISP2_NAT = """table ip pantau_lab_nat {
  chain post { type nat hook postrouting priority srcnat; policy accept;
    oifname "uplink" masquerade
    oifname "uplink2" masquerade
  }
}
"""
PORTS = {"portal": 80, "portal_tls": 443, "expired_tls": 8443, "banner": 2525, "dns": 53}
BANNER = "220 mail.lab.test ESMTP pantau-lab"
# DNS names the lab's dnsmasq answers (zone lab.test; every other lab.test name is NXDOMAIN).
DNS_RECORDS = {
    "portal.lab.test": "10.200.2.2,fd00:202::2",
    "dns.lab.test": "10.200.2.2",
    "mail.lab.test": "10.200.2.2",
    "v6only.lab.test": "fd00:202::2",
}


@dataclass
class _Service:
    role: str
    argv: list[str]
    port: int
    proto: Literal["tcp", "udp"] = "tcp"
    proc: subprocess.Popen[bytes] | None = None


def make_certs(directory: Path,
               ips: Sequence[str] = (BASE.addresses["internet"], BASE.addresses["internet6"]),
               ) -> tuple[dict[str, Path], float]:
    """A lab CA, a valid server certificate and an expired one (portal.lab.test + its IP).

    Returns the PEM paths and the valid server certificate's notAfter (Unix time).
    """
    import ipaddress

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tests.helpers.certs import issue, new_ca, pem, pem_key

    now = dt.datetime.now(dt.UTC)
    ca, ca_key = new_ca("pantau lab CA", now + dt.timedelta(days=30))
    out = {"ca": directory / "ca.pem"}
    not_after = 0.0
    out["ca"].write_bytes(pem(ca))
    sans = [x509.DNSName("portal.lab.test"),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips)]
    for label, start, end in (
        ("server", now - dt.timedelta(days=1), now + dt.timedelta(days=20)),
        ("expired", now - dt.timedelta(days=10), now - dt.timedelta(days=2)),
    ):
        cert, key = issue(ca, ca_key, "portal.lab.test", sans, ExtendedKeyUsageOID.SERVER_AUTH,
                          start, end)
        out[f"{label}_cert"] = directory / f"{label}.pem"
        out[f"{label}_cert"].write_bytes(pem(cert) + pem(ca))  # the chain
        out[f"{label}_key"] = directory / f"{label}.key"
        out[f"{label}_key"].write_bytes(pem_key(key))
        if label == "server":
            not_after = end.replace(microsecond=0).timestamp()
    return out, not_after


class OfficeLab(NetnsLab):
    """The office network. Use as a context manager; `start()`/`close()` also work."""

    TOOLS = ("ip", "nft", "dnsmasq", "ss")

    def __init__(self, prefix: str = PREFIX, services: bool = True,
                 python: str = sys.executable, second_uplink: bool = False) -> None:
        self.second_uplink = second_uplink
        self.parts = (BASE, ISP2) if second_uplink else (BASE,)
        super().__init__(prefix, [r for p in self.parts for r in p.roles],
                         {k: v for p in self.parts for k, v in p.links.items()}, python)
        self.addresses = {k: v for p in self.parts for k, v in p.addresses.items()}
        self.ports = dict(PORTS)
        self.dns_records = dict(DNS_RECORDS)
        self.banner = BANNER
        self.want_services = services
        self.certs: dict[str, Path] = {}
        self.ca_file = self.tmp / "ca.pem"
        self.cert_not_after = 0.0
        self._services: dict[str, _Service] = {}

    def _build(self) -> None:
        self._build_network()
        if self.want_services:
            self._define_services()
            for name in self._services:
                self.start_service(name)

    def reset(self) -> None:
        """Undo what a test broke: links up, no loss, every service running."""
        self._all_links_up()
        self._routes()
        self.clear_loss()
        for name in self._services:
            self.start_service(name)
        self.wait_path()

    def wait_path(self, timeout: float = 10.0) -> None:
        """Until the office reaches the portal again (links just set up may still be
        resolving neighbours): a test never starts on a path that is half back."""
        target = f"/dev/tcp/{self.addresses['internet']}/80"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exec("office", ["timeout", "1", "bash", "-c", f"exec 3<>{target}"],
                         check=False, timeout=5).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"office does not reach the portal {timeout:g}s after reset")

    # -- network -----------------------------------------------------------------------------

    def _build_network(self) -> None:
        # accept_dad=0 before any veth exists, so link-local addresses skip DAD too: IPv6
        # works at once.
        self._add_namespaces(["net.ipv6.conf.all.accept_dad=0",
                              "net.ipv6.conf.default.accept_dad=0"])
        self._add_links()
        for role, ifname, cidr in (a for p in self.parts for a in p.ifaddrs):
            extra = ["nodad"] if ":" in cidr else []
            _run(["ip", "-n", self.ns[role], "addr", "add", cidr, "dev", ifname, *extra])
            _run(["ip", "-n", self.ns[role], "link", "set", ifname, "up"])
        for role in (r for p in self.parts for r in p.forwarders):
            self.exec(role, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
                             "net.ipv6.conf.all.forwarding=1"])
        if self.second_uplink:
            self._nft("router", _ISP2_NAT)
        self._routes()
        # The office (and only it) resolves through the lab's DNS server.
        self.write_resolv_conf("office", f"nameserver {self.addresses['internet']}\n"
                                         "options timeout:1 attempts:1\n")

    def _routes(self) -> None:
        for role, dest, via, metric in (r for p in self.parts for r in p.routes):
            family = "-6" if ":" in via else "-4"
            _run(["ip", family, "-n", self.ns[role], "route", "replace", dest, "via", via,
                  *(["metric", metric] if metric else [])], check=False)

    def loss(self, link: str, ratio: float,
             direction: Literal["both", "up", "down"] = "both") -> None:
        """Drop `ratio` of IP packets entering each end of `link` (nftables numgen random).

        direction "both" drops on both ends, so a round trip (ping) is lost with
        1-(1-ratio)^2; "up" drops only packets heading away from the office, "down" only
        packets heading towards it. ARP is never dropped. Replaces any earlier loss rule.
        """
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        near, far = self._link_sides(link)
        self.clear_loss(link)
        threshold = round(ratio * 10000)
        sides = {"both": (near, far), "up": (far,), "down": (near,)}[direction]
        match = "" if threshold >= 10000 else f"numgen random mod 10000 < {threshold} "
        for role in sides:
            script = (f"table netdev pantau_loss_{link} {{\n"
                      f"  chain ingress {{ type filter hook ingress device \"{link}\" "
                      f"priority 0; policy accept;\n"
                      f"    meta protocol {{ ip, ip6 }} {match}counter drop\n  }}\n}}\n")
            self._nft(role, script)

    def clear_loss(self, link: str | None = None) -> None:
        """Remove loss rules from one link, or from every link."""
        for name in [link] if link else list(self.links):
            for role in self._link_sides(name):
                self._nft_del(role, "netdev", f"pantau_loss_{name}")

    # -- services ----------------------------------------------------------------------------

    def _define_services(self) -> None:
        self.certs, self.cert_not_after = make_certs(self.tmp)
        server = str(HERE / "servers.py")
        addr = "::"  # dual stack: 10.200.2.2 and fd00:202::2 (the namespace has no others)
        py = self.python_exe
        c = self.certs
        self._services = {
            "portal": _Service("internet", [py, server, "http", "--host", addr, "--port",
                                            str(PORTS["portal"])], PORTS["portal"]),
            "portal_tls": _Service("internet", [py, server, "https", "--host", addr, "--port",
                                                str(PORTS["portal_tls"]), "--cert",
                                                str(c["server_cert"]), "--key",
                                                str(c["server_key"])], PORTS["portal_tls"]),
            "expired_tls": _Service("internet", [py, server, "https", "--host", addr, "--port",
                                                 str(PORTS["expired_tls"]), "--cert",
                                                 str(c["expired_cert"]), "--key",
                                                 str(c["expired_key"])], PORTS["expired_tls"]),
            "banner": _Service("internet", [py, server, "banner", "--host", addr, "--port",
                                            str(PORTS["banner"]), "--text", BANNER],
                               PORTS["banner"]),
            "dns": _Service("internet", self._dnsmasq_argv(), PORTS["dns"], "udp"),
        }

    def _dnsmasq_argv(self) -> list[str]:
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--bind-interfaces",
                f"--listen-address={self.addresses['internet']}",
                f"--listen-address={self.addresses['internet6']}", f"--port={PORTS['dns']}",
                "--user=root", "--group=root", "--pid-file=", "--local=/lab.test/",
                "--cname=www.lab.test,portal.lab.test"]
        argv += [f"--host-record={n},{a}" for n, a in DNS_RECORDS.items()]
        # Enough TXT data that a plain (non-EDNS) UDP answer is truncated: TCP fallback.
        argv += [f"--txt-record=big.lab.test,{i:02d}-{'x' * 90}" for i in range(12)]
        return argv

    @property
    def services(self) -> list[str]:
        return list(self._services)

    def start_service(self, name: str, timeout: float = 10) -> None:
        """Start (or restart) a service and wait until its port listens."""
        svc = self._services[name]
        if svc.proc is not None and svc.proc.poll() is None:
            return
        svc.proc = self.popen(svc.role, svc.argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if svc.proc.poll() is not None:
                raise RuntimeError(f"lab service {name} exited with {svc.proc.returncode}")
            flag = "-Hltn" if svc.proto == "tcp" else "-Hlun"
            res = self.exec(svc.role, ["ss", flag, f"sport = :{svc.port}"], check=False,
                            timeout=5)
            if res.stdout.strip():
                return
            time.sleep(0.05)
        raise RuntimeError(f"lab service {name} did not listen on :{svc.port} in {timeout}s")

    def stop_service(self, name: str) -> None:
        """Stop a service (SIGTERM, then SIGKILL) and wait until it is gone."""
        svc = self._services[name]
        if svc.proc is None or svc.proc.poll() is not None:
            return
        stop_process(svc.proc, grace=3)
