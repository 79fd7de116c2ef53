"""filefd: /proc/sys/fs/file-nr (allocated, unused, maximum)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

METRICS = (
    MetricSpec("node_filefd_allocated", "gauge", "File descriptor statistics: allocated."),
    MetricSpec("node_filefd_maximum", "gauge", "File descriptor statistics: maximum."),
)


def parse_file_nr(text: str) -> list[Sample]:
    parts = text.split()
    if len(parts) != 3:
        raise ValueError(f"file-nr: expected three numbers, got {text.strip()[:60]!r}")
    return [Sample("node_filefd_allocated", float(parts[0])),
            Sample("node_filefd_maximum", float(parts[2]))]


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    return parse_file_nr(env.read_proc("sys/fs/file-nr"))


PART = Part("filefd", METRICS, read)
