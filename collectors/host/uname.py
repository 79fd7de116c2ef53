"""uname: node_uname_info, the series Grafana's node dashboards take their $job/$node from."""

from __future__ import annotations

import os
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part

_LABELS = ("domainname", "machine", "nodename", "release", "sysname", "version")

METRICS = (
    MetricSpec("node_uname_info", "info",
               "Labeled system information as provided by the uname system call.", _LABELS),
)


def sample(uts: os.uname_result, domainname: str) -> Sample:
    return Sample("node_uname_info", 1.0, (
        ("domainname", domainname), ("machine", uts.machine), ("nodename", uts.nodename),
        ("release", uts.release), ("sysname", uts.sysname), ("version", uts.version),
    ))


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    # Python's os.uname() has no domainname; the kernel prints the same utsname field here.
    try:
        domainname = env.read_proc("sys/kernel/domainname").strip()
    except Exception:
        domainname = "(none)"
    return [sample(os.uname(), domainname)]


PART = Part("uname", METRICS, read)
