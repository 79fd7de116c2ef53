"""softnet: per-CPU packet processing from /proc/net/softnet_stat (hex columns)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

METRICS = (
    MetricSpec("node_softnet_processed_total", "counter", "Number of processed packets",
               ("cpu",)),
    MetricSpec("node_softnet_dropped_total", "counter", "Number of dropped packets", ("cpu",)),
    MetricSpec("node_softnet_times_squeezed_total", "counter",
               "Number of times processing packets ran out of quota", ("cpu",)),
)


def parse_softnet(text: str) -> list[Sample]:
    """node_exporter 1.5 labels each line with its index (later versions use column 12)."""
    out: list[Sample] = []
    for i, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
        cols = line.split()
        if len(cols) < 3:
            raise ValueError(f"softnet_stat: short line {line[:60]!r}")
        cpu = (("cpu", str(i)),)
        out += [Sample("node_softnet_processed_total", float(int(cols[0], 16)), cpu),
                Sample("node_softnet_dropped_total", float(int(cols[1], 16)), cpu),
                Sample("node_softnet_times_squeezed_total", float(int(cols[2], 16)), cpu)]
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    return parse_softnet(env.read_proc("net/softnet_stat"))


PART = Part("softnet", METRICS, read)
