"""Finds what an office server should watch when nobody wrote a config: its default gateway
and its DNS resolvers. This is what makes `pantau run` useful on the first minute.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path
from typing import Any

from collectors import CHECK_TYPES


def default_gateways(route_file: Path = Path("/proc/net/route")) -> list[str]:
    """IPv4 default gateways from the kernel routing table, lowest metric first."""
    found: list[tuple[int, str]] = []
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest, gateway, flags, metric = fields[1], fields[2], fields[3], fields[6]
        try:
            if dest != "00000000" or not int(flags, 16) & 0x2:  # RTF_GATEWAY
                continue
            gw = socket.inet_ntoa(struct.pack("<L", int(gateway, 16)))
            found.append((int(metric), gw))
        except (ValueError, struct.error):
            continue
    seen: list[str] = []
    for _, gw in sorted(found):
        if gw not in seen:
            seen.append(gw)
    return seen


def dns_resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """Nameservers from resolv.conf that are real addresses (systemd's stub 127.0.0.53 kept)."""
    out: list[str] = []
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            addr = parts[1].split("%")[0]
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                continue
            if addr not in out:
                out.append(addr)
    return out


def _slug(addr: str) -> str:
    return addr.replace(":", "-").replace(".", "-")


def default_config(
    site: str,
    route_file: Path = Path("/proc/net/route"),
    resolv_conf: Path = Path("/etc/resolv.conf"),
    upstream_resolv_conf: Path = Path("/run/systemd/resolve/resolv.conf"),
) -> dict[str, Any]:
    """The embedded default: this host, plus gateway and DNS checks where those types exist,
    and the path through the gateway to the office's resolver (the ISP's, usually: the
    upstream of the gateway), traced every 5 minutes with 3 probes per hop, 16 hops at most
    (paths.*). Behind systemd-resolved's stub (127.0.0.53) the resolver it forwards to is
    read from its own resolv.conf."""
    checks: list[dict[str, Any]] = []
    # No `role` labels here: the agent derives role uplink/service from depends_on
    # (agent/alerting/roles.py), which the shipped Alertmanager inhibit rules match; a
    # hand-set role would win and break them.
    gateways = default_gateways(route_file)
    for gw in gateways:
        if "icmp" in CHECK_TYPES:
            checks.append(
                {"name": f"gateway-{_slug(gw)}", "type": "icmp", "target": gw,
                 "interval": "15s", "timeout": "5s"}
            )
    gw_names = [c["name"] for c in checks]
    for ns in dns_resolvers(resolv_conf):
        if "dns" in CHECK_TYPES:
            check: dict[str, Any] = {
                "name": f"dns-{_slug(ns)}", "type": "dns", "target": ns,
                "interval": "30s", "timeout": "5s",
                # The root zone's NS set: any working recursive resolver can answer it, and it
                # does not depend on one government domain being up.
                "query_name": ".", "query_type": "NS", "min_answers": 1,
            }
            if not ipaddress.ip_address(ns).is_loopback:
                check["depends_on"] = gw_names[:1]
            checks.append(check)
    if gateways and "path" in CHECK_TYPES:
        dns_checks = [c for c in checks if c["type"] == "dns"
                      and not ipaddress.ip_address(c["target"]).is_loopback]
        if dns_checks:
            dns_checks[0]["path"] = True  # made by paths.*: <dns check>-path
        else:
            upstream = [a for a in dns_resolvers(upstream_resolv_conf)
                        if not ipaddress.ip_address(a).is_loopback]
            if upstream:
                checks.append({"name": f"path-{_slug(upstream[0])}", "type": "path",
                               "target": upstream[0], "interval": "5m", "timeout": "10s",
                               "max_hops": 16, "probes": 3})
    return {"site": site, "checks": checks}
