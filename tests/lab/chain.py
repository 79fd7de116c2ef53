"""A chain of routers in network namespaces, for path (traceroute/MTR-style) tests.

    office --lan-- router --edge-- isp_edge --core-- isp_core --peer-- internet --dc-- portal
                                       \\--alt1-- isp_alt --alt2--/

Link i has subnet 10.210.i.0/24; its far side (towards the portal) is .1, its near side .2,
so hop k from the office answers from 10.210.(k-1).1 on the primary path:

    hop 1 router 10.210.0.1, 2 isp_edge 10.210.1.1, 3 isp_core 10.210.2.1,
    4 internet 10.210.3.1, 5 portal 10.210.4.1 (the target)

The alternative path goes isp_edge -> isp_alt (10.210.12.1) -> internet (10.210.13.1).
Routers answer TTL-exceeded from the interface the probe came in on
(icmp_errors_use_inbound_ifaddr) and without ICMP rate limiting, so every probe gets its
answer and hop addresses are deterministic. IPv6 runs alongside on the same links
(fd00:210:i::/64, far side ::1, near side ::2; `target6`, `hops6`); loss, silence, route
changes and ECMP are IPv4 only. Nothing leaves the lab's namespaces.

    with ChainLab() as lab:
        lab.loss_at(3, 0.3)          # 30 % of packets entering hop 3 dropped
        lab.silent(2)                # hop 2 stops sending TTL-exceeded
        lab.use_alt(); lab.use_primary(); lab.ecmp()   # route change, per-packet ECMP
        lab.drop_echo_at_target()    # the portal filters ping (path checks by UDP/TCP)
"""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.lab.netns import NetnsLab, _run

PREFIX = "pchain"
ROLES = ("office", "router", "isp_edge", "isp_core", "isp_alt", "internet", "portal")
# link -> (near, far, third octet)
LINKS: dict[str, tuple[str, str, int]] = {
    "lan": ("office", "router", 0),
    "edge": ("router", "isp_edge", 1),
    "core": ("isp_edge", "isp_core", 2),
    "peer": ("isp_core", "internet", 3),
    "dc": ("internet", "portal", 4),
    "alt1": ("isp_edge", "isp_alt", 12),
    "alt2": ("isp_alt", "internet", 13),
}
# The primary path, hop by hop from the office: (role, the link it is entered by)
PATH: tuple[tuple[str, str], ...] = (
    ("router", "lan"), ("isp_edge", "edge"), ("isp_core", "core"), ("internet", "peer"),
    ("portal", "dc"),
)
ALT_PATH: tuple[tuple[str, str], ...] = (
    ("router", "lan"), ("isp_edge", "edge"), ("isp_alt", "alt1"), ("internet", "alt2"),
    ("portal", "dc"),
)
OFFICE_SIDE = "10.210.0.0/22"  # lan, edge, core: everything in front of isp_core
_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("office", "default", "10.210.0.1"),
    ("router", "default", "10.210.1.1"),
    ("isp_edge", "default", "10.210.2.1"),
    ("isp_edge", "10.210.0.0/24", "10.210.1.2"),
    ("isp_core", "default", "10.210.3.1"),
    ("isp_core", "10.210.0.0/23", "10.210.2.2"),
    ("isp_alt", "default", "10.210.13.1"),
    ("isp_alt", "10.210.0.0/23", "10.210.12.2"),
    ("internet", "default", "10.210.4.1"),
    ("internet", OFFICE_SIDE, "10.210.3.2"),
    ("internet", "10.210.12.0/24", "10.210.13.2"),
    ("portal", "default", "10.210.4.2"),
)
# The same routes for IPv6 (primary path only).
_ROUTES6: tuple[tuple[str, str, str], ...] = (
    ("office", "default", "fd00:210:0::1"),
    ("router", "default", "fd00:210:1::1"),
    ("isp_edge", "default", "fd00:210:2::1"),
    ("isp_edge", "fd00:210:0::/64", "fd00:210:1::2"),
    ("isp_core", "default", "fd00:210:3::1"),
    ("isp_core", "fd00:210::/63", "fd00:210:2::2"),
    ("internet", "default", "fd00:210:4::1"),
    ("internet", "fd00:210::/62", "fd00:210:3::2"),
    ("portal", "default", "fd00:210:4::2"),
)


def addr(link: str, side: str) -> str:
    """Address of `link`'s near or far end."""
    return f"10.210.{LINKS[link][2]}.{1 if side == 'far' else 2}"


def addr6(link: str, side: str) -> str:
    """IPv6 address of `link`'s near or far end, in the canonical form."""
    return str(ipaddress.ip_address(f"fd00:210:{LINKS[link][2]:x}::{1 if side == 'far' else 2}"))


class ChainLab(NetnsLab):
    """Use as a context manager; `start()`/`close()` also work."""

    def __init__(self, prefix: str = PREFIX, python: str = sys.executable) -> None:
        super().__init__(prefix, ROLES,
                         {link: (near, far) for link, (near, far, _) in LINKS.items()}, python)
        self.target = addr("dc", "far")
        self.hops = [addr(link, "far") for _, link in PATH]
        self.alt_hops = [addr(link, "far") for _, link in ALT_PATH]
        self.target6 = addr6("dc", "far")
        self.hops6 = [addr6(link, "far") for _, link in PATH]
        self._loss_role: str | None = None

    def _build(self) -> None:
        # Every probe answered, from the interface it came in on: hop addresses are
        # deterministic and loss is only what a test injects.
        self._add_namespaces(["net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000",
                              "net.ipv4.icmp_errors_use_inbound_ifaddr=1",
                              "net.ipv4.ip_forward=1", "net.ipv6.icmp.ratelimit=0",
                              "net.ipv6.conf.all.forwarding=1",
                              "net.ipv6.conf.all.accept_dad=0",
                              "net.ipv6.conf.default.accept_dad=0",
                              # a cut link keeps its IPv6 addresses for the restore
                              "net.ipv6.conf.all.keep_addr_on_down=1",
                              "net.ipv6.conf.default.keep_addr_on_down=1"])
        self._add_links()
        for link, (near, far, octet) in LINKS.items():
            for role, host in ((near, 2), (far, 1)):
                _run(["ip", "-n", self.ns[role], "addr", "add", f"10.210.{octet}.{host}/24",
                      "dev", link])
                _run(["ip", "-n", self.ns[role], "addr", "add",
                      f"fd00:210:{octet:x}::{host}/64", "dev", link, "nodad"])
                _run(["ip", "-n", self.ns[role], "link", "set", link, "up"])
        self._routes()

    def _routes(self) -> None:
        for role, dest, via in _ROUTES:
            _run(["ip", "-n", self.ns[role], "route", "replace", dest, "via", via])
        for role, dest, via in _ROUTES6:
            _run(["ip", "-6", "-n", self.ns[role], "route", "replace", dest, "via", via],
                 check=False)  # a link that is down has no route through it

    # -- breaking things -----------------------------------------------------------------

    def loss_at(self, hop: int, ratio: float) -> None:
        """Drop `ratio` of the IPv4 packets entering hop `hop` (1-based) from the office
        side, so every probe to that hop and beyond is lost with `ratio`, none before."""
        role, link = PATH[hop - 1]
        self.clear_loss()
        match = "" if ratio >= 1 else f"numgen random mod 10000 < {round(ratio * 10000)} "
        self._nft(role, f"table netdev pantau_chain_loss {{\n"
                        f"  chain ingress {{ type filter hook ingress device \"{link}\" "
                        f"priority 0; policy accept;\n"
                        f"    meta protocol ip {match}counter drop\n  }}\n}}\n")
        self._loss_role = role

    def clear_loss(self) -> None:
        role = self._loss_role
        if role:
            self._nft_del(role, "netdev", "pantau_chain_loss")
            self._loss_role = None

    def silent(self, hop: int) -> None:
        """Hop `hop` stops sending ICMP time-exceeded (a router that hides from traceroute)."""
        role, _ = PATH[hop - 1]
        self._nft(role, "table ip pantau_silent {\n  chain out { type filter hook output "
                        "priority 0; policy accept;\n    icmp type time-exceeded drop\n  }\n}\n")

    def unsilent(self, hop: int) -> None:
        self._nft_del(PATH[hop - 1][0], "ip", "pantau_silent")

    def use_alt(self) -> None:
        """Route change: isp_edge sends portal traffic through isp_alt (and back)."""
        self.no_ecmp()
        _run(["ip", "-n", self.ns["isp_edge"], "route", "replace", "default",
              "via", addr("alt1", "far")])
        _run(["ip", "-n", self.ns["internet"], "route", "replace", OFFICE_SIDE,
              "via", addr("alt2", "near")])

    def use_primary(self) -> None:
        self.no_ecmp()
        self._routes()

    def ecmp(self) -> None:
        """Per-packet load balancing at isp_edge over isp_core and isp_alt (at random: a
        round-robin counter would alias with probes sent in rounds of a fixed size).

        The marked half goes through isp_alt before the main table goes back to the primary:
        done the other way round, a loaded machine left a second or two of primary only after
        a move to isp_alt, which an agent rightly counted as one more route change."""
        self.no_ecmp()
        edge = self.ns["isp_edge"]
        _run(["ip", "-n", edge, "route", "replace", "default", "via", addr("alt1", "far"),
              "table", "101"])
        _run(["ip", "-n", edge, "rule", "add", "fwmark", "1", "lookup", "101"])
        self._nft("isp_edge", f"table ip pantau_ecmp {{\n  chain pre {{ type filter hook "
                              f"prerouting priority -150; policy accept;\n"
                              f"    ip daddr {self.target} meta mark set numgen random mod 2\n"
                              f"  }}\n}}\n")
        self._routes()

    def no_ecmp(self) -> None:
        edge = self.ns["isp_edge"]
        self._nft_del("isp_edge", "ip", "pantau_ecmp")
        _run(["ip", "-n", edge, "rule", "del", "fwmark", "1", "lookup", "101"], check=False)

    def drop_echo_at_target(self) -> None:
        """The portal drops ICMP echo requests (a firewall that filters ping)."""
        self._nft("portal", "table ip pantau_noecho {\n  chain in { type filter hook input "
                            "priority 0; policy accept;\n    icmp type echo-request drop\n"
                            "  }\n}\n")

    def allow_echo_at_target(self) -> None:
        self._nft_del("portal", "ip", "pantau_noecho")

    @contextlib.contextmanager
    def office_resolv_conf(self, text: str) -> Iterator[None]:
        """The office's /etc/resolv.conf while in the block (`ip netns exec` mounts
        /etc/netns/<ns>/resolv.conf over it for everything run in the office)."""
        etc = self.write_resolv_conf("office", text)
        try:
            yield
        finally:
            shutil.rmtree(etc, ignore_errors=True)

    @contextlib.contextmanager
    def office_resolver(self, ptr: dict[str, str]) -> Iterator[Path]:
        """dnsmasq on 127.0.0.1:53 in the office, answering PTR queries for `ptr` (address ->
        name) and nothing else, made the office's system resolver (`ip netns exec` mounts
        /etc/netns/<ns>/resolv.conf over /etc/resolv.conf). Yields its query log."""
        log = self.tmp / "dnsmasq-office.log"
        pid = self.tmp / "dnsmasq-office.pid"
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", "--port=53",
                "--user=root", f"--pid-file={pid}", "--log-queries", f"--log-facility={log}",
                "--bogus-priv", *(f"--ptr-record={ipaddress.ip_address(a).reverse_pointer},"
                                  f"{name}" for a, name in ptr.items())]
        with self.office_resolv_conf("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"):
            proc = self.popen("office", argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 10
                while not pid.exists():  # written once its socket is bound
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        raise RuntimeError(f"dnsmasq in the office did not start: {err[-300:]}")
                    time.sleep(0.05)
                yield log
            finally:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)

    def reset(self) -> None:
        self._all_links_up()
        self.use_primary()
        self.clear_loss()
        self.allow_echo_at_target()
        for hop in range(1, len(PATH) + 1):
            self.unsilent(hop)


def wait_reachable(lab: ChainLab, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = lab.exec("office", ["fping", "-q", "-t", "500", lab.target], check=False)
        if res.returncode == 0:
            return
    raise RuntimeError("chain lab: portal not reachable from the office")
