"""cpufreq: CPU frequencies from /sys/devices/system/cpu/cpu*/cpufreq (kHz -> Hz)."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Env, Part, read_sys_value

# sysfs file -> (family, HELP)
_FILES = (
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current cpu thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum cpu thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum cpu thread frequency in hertz."),
    ("scaling_cur_freq", "node_cpu_scaling_frequency_hertz",
     "Current scaled CPU thread frequency in hertz."),
    ("scaling_min_freq", "node_cpu_scaling_frequency_min_hertz",
     "Minimum scaled CPU thread frequency in hertz."),
    ("scaling_max_freq", "node_cpu_scaling_frequency_max_hertz",
     "Maximum scaled CPU thread frequency in hertz."),
)

METRICS = tuple(MetricSpec(name, "gauge", text, ("cpu",)) for _, name, text in _FILES)


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    # Virtual machines usually have no cpufreq directory: no series, and not an error.
    out: list[Sample] = []
    base = env.sys / "devices/system/cpu"
    try:
        cpus = sorted(p for p in base.glob("cpu[0-9]*") if (p / "cpufreq").is_dir())
    except OSError:
        return out
    for cpu_dir in cpus:
        cpu = (("cpu", cpu_dir.name[3:]),)
        for fname, name, _ in _FILES:
            raw = read_sys_value(cpu_dir / "cpufreq" / fname)
            if raw is not None and raw.isdigit():
                out.append(Sample(name, int(raw) * 1000.0, cpu))
    return out


PART = Part("cpufreq", METRICS, read)
