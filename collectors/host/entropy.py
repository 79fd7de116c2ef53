"""entropy: the kernel's random pool, /proc/sys/kernel/random/{entropy_avail,poolsize}."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

METRICS = (
    MetricSpec("node_entropy_available_bits", "gauge", "Bits of available entropy."),
    MetricSpec("node_entropy_pool_size_bits", "gauge", "Bits of entropy pool."),
)


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    avail = float(env.read_proc("sys/kernel/random/entropy_avail").strip())
    pool = float(env.read_proc("sys/kernel/random/poolsize").strip())
    return [Sample("node_entropy_available_bits", avail),
            Sample("node_entropy_pool_size_bits", pool)]


PART = Part("entropy", METRICS, read)
