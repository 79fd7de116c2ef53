"""netstat: /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6, node_exporter 1.5's default
fields (--collector.netstat.fields), untyped as node_exporter exposes them."""

from __future__ import annotations

import re
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

# node_exporter 1.5's default --collector.netstat.fields, searched like Go's MatchString.
DEFAULT_FIELDS = re.compile(
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)

# Every field a 6.x kernel prints that DEFAULT_FIELDS keeps: families are declared up front.
FIELDS = (
    "Icmp6_InErrors", "Icmp6_InMsgs", "Icmp6_OutMsgs", "Icmp_InErrors", "Icmp_InMsgs",
    "Icmp_OutMsgs", "Ip6_InOctets", "Ip6_OutOctets", "IpExt_InOctets", "IpExt_OutOctets",
    "Ip_Forwarding", "TcpExt_ListenDrops", "TcpExt_ListenOverflows", "TcpExt_SyncookiesFailed",
    "TcpExt_SyncookiesRecv", "TcpExt_SyncookiesSent", "TcpExt_TCPSynRetrans",
    "TcpExt_TCPTimeouts", "Tcp_ActiveOpens", "Tcp_CurrEstab", "Tcp_InErrs", "Tcp_InSegs",
    "Tcp_OutRsts", "Tcp_OutSegs", "Tcp_PassiveOpens", "Tcp_RetransSegs", "Udp6_InDatagrams",
    "Udp6_InErrors", "Udp6_NoPorts", "Udp6_OutDatagrams", "Udp6_RcvbufErrors",
    "Udp6_SndbufErrors", "UdpLite6_InErrors", "UdpLite_InErrors", "Udp_InDatagrams",
    "Udp_InErrors", "Udp_NoPorts", "Udp_OutDatagrams", "Udp_RcvbufErrors", "Udp_SndbufErrors",
)
_KNOWN = frozenset(FIELDS)

METRICS = tuple(
    MetricSpec(f"node_netstat_{f}", "untyped", f"Statistic {f.replace('_', '', 1)}.")
    for f in FIELDS
)


def parse_pairs(text: str) -> dict[str, float]:
    """/proc/net/netstat and /proc/net/snmp: a header line and a value line per protocol."""
    out: dict[str, float] = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        names, vals = header.split(), values.split()
        if not names or names[0] != vals[0] or len(names) != len(vals):
            raise ValueError(f"netstat: mismatched lines for {names[:1]!r}")
        proto = names[0].rstrip(":")
        for n, v in zip(names[1:], vals[1:], strict=True):
            out[f"{proto}_{n}"] = float(v)
    return out


def parse_snmp6(text: str) -> dict[str, float]:
    """/proc/net/snmp6: `Ip6InOctets 123` lines; the protocol ends at its first '6'."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        six = parts[0].find("6")
        if six == -1:
            continue
        out[f"{parts[0][:six + 1]}_{parts[0][six + 1:]}"] = float(parts[1])
    return out


def samples(stats: dict[str, float], details: dict[str, Any]) -> list[Sample]:
    out: list[Sample] = []
    unknown: list[str] = []
    for key, value in stats.items():
        if not DEFAULT_FIELDS.search(key):
            continue
        if key in _KNOWN:
            out.append(Sample(f"node_netstat_{key}", value))
        else:
            unknown.append(key)
    if unknown:
        details["netstat_unknown_fields"] = sorted(unknown)
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    stats: dict[str, float] = {}
    found = False
    for rel, parse in (("net/netstat", parse_pairs), ("net/snmp", parse_pairs),
                       ("net/snmp6", parse_snmp6)):
        try:
            stats.update(parse(env.read_proc(rel)))
            found = True
        except Absent:
            continue  # snmp6 is missing with ipv6.disable=1
    if not found:
        raise Absent("no /proc/net/netstat or /proc/net/snmp")
    return samples(stats, details)


PART = Part("netstat", METRICS, read)
