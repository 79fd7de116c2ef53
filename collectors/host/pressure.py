"""pressure: pressure stall information (PSI, Linux 4.20+ with CONFIG_PSI) from /proc/pressure."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

METRICS = (
    MetricSpec("node_pressure_cpu_waiting_seconds_total", "counter",
               "Total time in seconds that processes have waited for CPU time", (), "seconds"),
    MetricSpec("node_pressure_io_waiting_seconds_total", "counter",
               "Total time in seconds that processes have waited due to IO congestion", (),
               "seconds"),
    MetricSpec("node_pressure_io_stalled_seconds_total", "counter",
               "Total time in seconds no process could make progress due to IO congestion", (),
               "seconds"),
    MetricSpec("node_pressure_memory_waiting_seconds_total", "counter",
               "Total time in seconds that processes have waited for memory", (), "seconds"),
    MetricSpec("node_pressure_memory_stalled_seconds_total", "counter",
               "Total time in seconds no process could make progress due to memory congestion",
               (), "seconds"),
)
# node_exporter 1.5 reports cpu "some" only (cpu "full" came with later kernels and exporters).
_NAMES = {
    ("cpu", "some"): "node_pressure_cpu_waiting_seconds_total",
    ("io", "some"): "node_pressure_io_waiting_seconds_total",
    ("io", "full"): "node_pressure_io_stalled_seconds_total",
    ("memory", "some"): "node_pressure_memory_waiting_seconds_total",
    ("memory", "full"): "node_pressure_memory_stalled_seconds_total",
}


def parse_psi(resource: str, text: str) -> list[Sample]:
    """`some avg10=0.00 avg60=0.00 avg300=0.00 total=12345` (microseconds)."""
    out: list[Sample] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        name = _NAMES.get((resource, parts[0]))
        if name is None:
            continue
        fields = dict(p.partition("=")[::2] for p in parts[1:])
        if "total" not in fields:
            raise ValueError(f"pressure/{resource}: no total in {line[:60]!r}")
        out.append(Sample(name, int(fields["total"]) / 1e6))
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    out: list[Sample] = []
    for resource in ("cpu", "io", "memory"):
        try:
            text = env.read_proc(f"pressure/{resource}")
        except OSError as e:  # EOPNOTSUPP when the kernel was booted with psi=0
            raise Absent(f"pressure/{resource}: {e}") from None
        out.extend(parse_psi(resource, text))
    return out


PART = Part("pressure", METRICS, read)
