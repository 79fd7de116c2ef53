"""sockstat: /proc/net/sockstat and sockstat6 under node_exporter's node_sockstat_* names."""

from __future__ import annotations

import os
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

# (protocol, state) pairs a 6.x kernel prints; mem also as mem_bytes (pages * page size).
FIELDS = (
    ("FRAG6", "inuse"), ("FRAG6", "memory"), ("FRAG", "inuse"), ("FRAG", "memory"),
    ("RAW6", "inuse"), ("RAW", "inuse"), ("TCP6", "inuse"), ("TCP", "alloc"), ("TCP", "inuse"),
    ("TCP", "mem"), ("TCP", "mem_bytes"), ("TCP", "orphan"), ("TCP", "tw"), ("UDP6", "inuse"),
    ("UDPLITE6", "inuse"), ("UDPLITE", "inuse"), ("UDP", "inuse"), ("UDP", "mem"),
    ("UDP", "mem_bytes"),
)
_KNOWN = frozenset(f"{p}_{s}" for p, s in FIELDS)

METRICS = (
    MetricSpec("node_sockstat_sockets_used", "gauge", "Number of IPv4 sockets in use."),
    *(MetricSpec(f"node_sockstat_{p}_{s}", "gauge", f"Number of {p} sockets in state {s}.")
      for p, s in FIELDS),
)

try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _PAGE_SIZE = 4096


def parse_sockstat(text: str, page_size: int = _PAGE_SIZE) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        proto, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) % 2:
            continue
        for key, value in zip(fields[::2], fields[1::2], strict=True):
            if proto == "sockets" and key == "used":
                out["sockets_used"] = float(value)
                continue
            out[f"{proto}_{key}"] = float(value)
            if key == "mem":
                out[f"{proto}_mem_bytes"] = float(value) * page_size
    return out


def samples(stats: dict[str, float], details: dict[str, Any]) -> list[Sample]:
    out: list[Sample] = []
    for key, value in stats.items():
        if key == "sockets_used" or key in _KNOWN:
            out.append(Sample(f"node_sockstat_{key}", value))
        else:
            details.setdefault("sockstat_unknown_fields", []).append(key)
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    stats = parse_sockstat(env.read_proc("net/sockstat"))
    try:
        stats.update(parse_sockstat(env.read_proc("net/sockstat6")))
    except Absent:
        pass  # IPv6 disabled
    return samples(stats, details)


PART = Part("sockstat", METRICS, read)
