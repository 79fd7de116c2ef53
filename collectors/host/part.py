"""What one host part (one node_exporter collector) is: its name, its families, its reader.

Each part lives in its own module under collectors/host/ and is registered in the host
collector's PARTS tuple. A reader gets the paths it may read and returns plain samples; a
kernel without the files raises `Absent`, which the host collector reports the way
node_exporter does (node_scrape_collector_success 0) without failing the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.base import MetricSpec, Sample


class Absent(Exception):
    """This kernel or machine does not have what the part reads: the part is quietly absent."""


@dataclass(frozen=True)
class Env:
    """Where a part reads from (node_exporter's --path.procfs, --path.sysfs, --path.rootfs)."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    etc: Path = Path("/etc")
    usr_lib: Path = Path("/usr/lib")
    # Per-part state kept between runs (e.g. previous values), owned by the host collector.
    state: dict[str, Any] = field(default_factory=dict)

    def read_proc(self, rel: str) -> str:
        """A /proc file; a missing one means the part is absent on this kernel."""
        try:
            return (self.proc / rel).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise Absent(f"{self.proc / rel} does not exist") from None


Reader = Callable[[Env, dict[str, Any]], list[Sample]]


@dataclass(frozen=True)
class Part:
    name: str  # node_exporter's collector name, as in `host.collectors`
    metrics: tuple[MetricSpec, ...]
    read: Reader


def read_sys_value(path: Path | str) -> str | None:
    """One sysfs attribute, stripped; None when the kernel refuses it (EINVAL on a down link).

    os.open/os.read rather than Path.read_text: netclass reads ~20 attributes per interface
    every run, and the text-file layers cost more than the read itself."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 65536).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
