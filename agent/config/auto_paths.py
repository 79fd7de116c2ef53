"""Path checks the config makes by itself: one for every http, dns and tcp check that asks for
it (`path: true` on the check, or `paths.auto: true` for all of them), so "where between the
office and the portal is it broken" is answered without writing a path check per service.

Kept modest by default (a path check runs `probes` x hops packets per `interval`: 3 probes
every 5 minutes is ~50 packets per service per 5 minutes on a 16-hop path), one per target
host however many checks share it, and none where a written path check already traces the
host. The made check is named `<check>-path` and carries the check's labels.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Literal

from pydantic import Field

from collectors.common.hostport import split_host_port, target_host
from collectors.config import CheckConfig, Duration, StrictModel

AUTO_PATH_TYPES = ("http", "dns", "tcp")


class PathsConfig(StrictModel):
    """Path checks made for http, dns and tcp checks (`path: true` on a check, or all)."""

    auto: bool = Field(
        False, description="Trace the path to the target of every http, dns and tcp check "
        "(a check's own `path: false` opts it out).")
    interval: Duration = Field(300.0, description="How often a made path check runs (at "
                               "least the interval of the check it is made for).")
    timeout: Duration = Field(10.0, description="Deadline of one run of a made path check.")
    max_hops: int = Field(16, ge=1, le=64, description="Longest path searched for.")
    probes: int = Field(3, ge=1, le=100, description="Probes per hop per run.")
    protocol: Literal["icmp", "udp", "tcp"] = Field(
        "icmp", description="icmp, udp, or tcp: SYNs to the service's own port (http: the "
        "URL's port, tcp: the target's, dns: 53).")


def _service_port(check: CheckConfig) -> int:
    if check.type == "http":
        url = urllib.parse.urlsplit(check.target)
        return url.port or (443 if url.scheme == "https" else 80)
    if check.type == "dns":
        return split_host_port(check.target, 53, what="target")[1]
    return split_host_port(check.target, what="target")[1]


def auto_path_checks(checks: list[CheckConfig], cfg: PathsConfig) -> list[dict[str, Any]]:
    """The path checks to add (as config mappings), in the order of their checks."""
    traced = {target_host(c.target) for c in checks if c.type == "path"}
    names = {c.name for c in checks}
    out: list[dict[str, Any]] = []
    for c in checks:
        wanted = getattr(c, "path", None)
        if c.type not in AUTO_PATH_TYPES or not (cfg.auto if wanted is None else wanted):
            continue
        host = target_host(c.target)
        name = f"{c.name}-path"
        if not host or host in traced or name in names:
            continue
        traced.add(host)
        names.add(name)
        item: dict[str, Any] = {
            "name": name, "type": "path", "target": host,
            "interval": max(cfg.interval, c.interval), "timeout": cfg.timeout,
            "max_hops": cfg.max_hops, "probes": cfg.probes, "packet_interval": 0.2,
            "probe_timeout": 1.0, "labels": dict(c.labels), "severity": c.severity,
        }
        if cfg.protocol != "icmp":
            item["protocol"] = cfg.protocol
        if cfg.protocol == "tcp":
            item["port"] = _service_port(c)
        out.append(item)
    return out
