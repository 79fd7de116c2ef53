"""vmstat: /proc/vmstat, node_exporter 1.5's default fields, untyped as it exposes them."""

from __future__ import annotations

import re
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

# node_exporter 1.5's default --collector.vmstat.fields.
DEFAULT_FIELDS = re.compile(r"^(oom_kill|pgpg|pswp|pg.*fault).*")
FIELDS = ("oom_kill", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")
_KNOWN = frozenset(FIELDS)

METRICS = tuple(
    MetricSpec(f"node_vmstat_{f}", "untyped", f"/proc/vmstat information field {f}.")
    for f in FIELDS
)


def parse_vmstat(text: str, details: dict[str, Any]) -> list[Sample]:
    out: list[Sample] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or not DEFAULT_FIELDS.search(parts[0]):
            continue
        if parts[0] in _KNOWN:
            out.append(Sample(f"node_vmstat_{parts[0]}", float(parts[1])))
        else:
            details.setdefault("vmstat_unknown_fields", []).append(parts[0])
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    return parse_vmstat(env.read_proc("vmstat"), details)


PART = Part("vmstat", METRICS, read)
