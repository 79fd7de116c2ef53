"""udp_queues: bytes queued in UDP sockets (tx_queue/rx_queue of /proc/net/udp, udp6)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

METRICS = (
    MetricSpec("node_udp_queues", "gauge",
               "Number of allocated memory in the kernel for UDP datagrams in bytes.",
               ("ip", "queue")),
)


def parse_udp(text: str) -> tuple[float, float]:
    """Sums of (tx_queue, rx_queue), the hex `tx:rx` fifth column of every socket line."""
    tx = rx = 0
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5:
            continue
        t, sep, r = cols[4].partition(":")
        if not sep:
            raise ValueError(f"net/udp: bad queue column {cols[4]!r}")
        tx += int(t, 16)
        rx += int(r, 16)
    return float(tx), float(rx)


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    out: list[Sample] = []
    for rel, ip in (("net/udp", "v4"), ("net/udp6", "v6")):
        try:
            tx, rx = parse_udp(env.read_proc(rel))
        except Absent:
            continue  # IPv6 disabled
        out += [Sample("node_udp_queues", tx, (("ip", ip), ("queue", "tx"))),
                Sample("node_udp_queues", rx, (("ip", ip), ("queue", "rx")))]
    if not out:
        raise Absent("no /proc/net/udp")
    return out


PART = Part("udp_queues", METRICS, read)
