"""os: node_os_info and node_os_version from os-release(5), as node_exporter 1.5 reads it."""

from __future__ import annotations

import re
import shlex
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part

_INFO_LABELS = (
    "build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name", "variant",
    "variant_id", "version", "version_codename", "version_id",
)
_VERSION_RE = re.compile(r"^[0-9]+\.?[0-9]*")

METRICS = (
    MetricSpec(
        "node_os_info", "info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, "
        "image_version, name, pretty_name, variant, variant_id, version, version_codename, "
        "version_id.", _INFO_LABELS),
    MetricSpec("node_os_version", "gauge",
               "Metric containing the major.minor part of the OS version.",
               ("id", "id_like", "name")),
)


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines, values optionally shell-quoted; comments and junk lines skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("\"'")]
        out[key.strip()] = parts[0] if parts else ""
    return out


def samples(fields: dict[str, str]) -> list[Sample]:
    info = tuple((label, fields.get(label.upper(), "")) for label in _INFO_LABELS)
    out = [Sample("node_os_info", 1.0, info)]
    # node_exporter emits 0 when VERSION_ID is missing or has no leading number (rolling
    # releases such as Arch).
    m = _VERSION_RE.match(fields.get("VERSION_ID", ""))
    version = float(m.group(0).rstrip(".")) if m else 0.0
    out.append(Sample("node_os_version", version, (
        ("id", fields.get("ID", "")), ("id_like", fields.get("ID_LIKE", "")),
        ("name", fields.get("NAME", "")),
    )))
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    for path in (env.etc / "os-release", env.usr_lib / "os-release"):
        try:
            return samples(parse_os_release(path.read_text(encoding="utf-8", errors="replace")))
        except FileNotFoundError:
            continue
    raise Absent("no os-release file")


PART = Part("os", METRICS, read)
