"""selinux: whether SELinux is enabled and in which mode (selinuxfs and /etc/selinux/config)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part, read_sys_value

METRICS = (
    MetricSpec("node_selinux_enabled", "gauge", "SELinux is enabled, 1 is true, 0 is false"),
    MetricSpec("node_selinux_config_mode", "gauge", "Configured SELinux enforcement mode"),
    MetricSpec("node_selinux_current_mode", "gauge", "Current SELinux enforcement mode"),
)
_CONFIG_MODES = {"enforcing": 1.0, "permissive": 0.0, "disabled": -1.0}


def config_mode(text: str) -> float | None:
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "SELINUX":
            return _CONFIG_MODES.get(value.strip().strip("\"'").lower())
    return None


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    # Like libselinux's is_selinux_enabled(): selinuxfs mounted (its enforce file readable).
    enforce = read_sys_value(env.sys / "fs/selinux/enforce")
    if enforce is None:
        return [Sample("node_selinux_enabled", 0.0)]
    out = [Sample("node_selinux_enabled", 1.0),
           Sample("node_selinux_current_mode", float(int(enforce)))]
    raw = read_sys_value(env.etc / "selinux/config")
    mode = config_mode(raw) if raw is not None else None
    if mode is not None:
        out.append(Sample("node_selinux_config_mode", mode))
    return out


PART = Part("selinux", METRICS, read)
