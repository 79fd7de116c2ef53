"""Connectivity probes, one file per prober: tcp, dns, http, icmp and path (over the
shared-socket pinger). Shared by them: net (resolution, deadlines, error wording, TLS
facts) and common (the probe_success/probe_duration samples every probe emits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.probe.common import PROBE_METRICS, PROBE_SUCCESS, probe_samples
    from collectors.probe.dns import DnsCollector
    from collectors.probe.http import HttpCollector
    from collectors.probe.icmp import IcmpCollector
    from collectors.probe.path import PathCollector
    from collectors.probe.tcp import TcpCollector


__all__ = ["PROBE_METRICS", "PROBE_SUCCESS", "DnsCollector", "HttpCollector", "IcmpCollector",
           "PathCollector", "TcpCollector", "probe_samples"]

# Names are imported from their module on first use (PEP 562): importing one submodule (the
# registry's entry, a section's config model) must not load the whole package.
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
