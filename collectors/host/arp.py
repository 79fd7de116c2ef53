"""arp: neighbour table entries per device, from /proc/net/arp."""

from __future__ import annotations

from collections import Counter
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

METRICS = (MetricSpec("node_arp_entries", "gauge", "ARP entries by device", ("device",)),)


def parse_arp(text: str) -> list[Sample]:
    counts: Counter[str] = Counter()
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 6:
            counts[cols[5]] += 1
    return [Sample("node_arp_entries", float(n), (("device", dev),))
            for dev, n in sorted(counts.items())]


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    return parse_arp(env.read_proc("net/arp"))


PART = Part("arp", METRICS, read)
