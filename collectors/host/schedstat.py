"""schedstat: per-CPU scheduler statistics from /proc/schedstat (CONFIG_SCHEDSTATS)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

METRICS = (
    MetricSpec("node_schedstat_running_seconds_total", "counter",
               "Number of seconds CPU spent running a process.", ("cpu",), "seconds"),
    MetricSpec("node_schedstat_waiting_seconds_total", "counter",
               "Number of seconds spent by processing waiting for this CPU.", ("cpu",),
               "seconds"),
    MetricSpec("node_schedstat_timeslices_total", "counter",
               "Number of timeslices executed by CPU.", ("cpu",)),
)


def parse_schedstat(text: str) -> list[Sample]:
    """`cpuN` lines: the 7th, 8th and 9th numbers are running ns, waiting ns, timeslices."""
    out: list[Sample] = []
    for line in text.splitlines():
        cols = line.split()
        if not cols or not cols[0].startswith("cpu") or not cols[0][3:].isdigit():
            continue
        if len(cols) < 10:
            raise ValueError(f"schedstat: short line {line[:60]!r}")
        cpu = (("cpu", cols[0][3:]),)
        out += [Sample("node_schedstat_running_seconds_total", int(cols[7]) / 1e9, cpu),
                Sample("node_schedstat_waiting_seconds_total", int(cols[8]) / 1e9, cpu),
                Sample("node_schedstat_timeslices_total", float(int(cols[9])), cpu)]
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    return parse_schedstat(env.read_proc("schedstat"))


PART = Part("schedstat", METRICS, read)
