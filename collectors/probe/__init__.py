"""Connectivity probes, one file per prober: tcp, dns, http, icmp and path (over the
shared-socket pinger). Shared by them: net (resolution, deadlines, error wording, TLS
facts) and common (the probe_success/probe_duration samples every probe emits)."""

from collectors.probe.common import PROBE_METRICS, PROBE_SUCCESS, probe_samples
from collectors.probe.dns import DnsCollector
from collectors.probe.http import HttpCollector
from collectors.probe.icmp import IcmpCollector
from collectors.probe.path import PathCollector
from collectors.probe.tcp import TcpCollector

__all__ = ["PROBE_METRICS", "PROBE_SUCCESS", "DnsCollector", "HttpCollector", "IcmpCollector",
           "PathCollector", "TcpCollector", "probe_samples"]
