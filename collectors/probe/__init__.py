"""Connectivity probes, one file per prober: tcp, dns, http, icmp and path (over the
shared-socket pinger). Shared by them: net (resolution, deadlines, error wording, TLS
facts) and common (the probe_success/probe_duration samples every probe emits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.probe.common import PROBE_METRICS, PROBE_SUCCESS, probe_samples
    from collectors.probe.dns import DnsCollector
    from collectors.probe.http import HttpCollector
    from collectors.probe.icmp import IcmpCollector
    from collectors.probe.path import PathCollector
    from collectors.probe.tcp import TcpCollector


__all__ = ["PROBE_METRICS", "PROBE_SUCCESS", "DnsCollector", "HttpCollector", "IcmpCollector",
           "PathCollector", "TcpCollector", "probe_samples"]

# Imported from their module on first use (collectors/common/lazy.py).
_LAZY = {
    "PROBE_METRICS": "collectors.probe.common",
    "PROBE_SUCCESS": "collectors.probe.common",
    "probe_samples": "collectors.probe.common",
    "DnsCollector": "collectors.probe.dns",
    "HttpCollector": "collectors.probe.http",
    "IcmpCollector": "collectors.probe.icmp",
    "PathCollector": "collectors.probe.path",
    "TcpCollector": "collectors.probe.tcp",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
