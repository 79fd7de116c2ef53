"""thermal_zone: /sys/class/thermal zone temperatures and cooling device states."""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part, read_sys_value

METRICS = (
    MetricSpec("node_thermal_zone_temp", "gauge", "Zone temperature in Celsius",
               ("zone", "type")),
    MetricSpec("node_cooling_device_cur_state", "gauge",
               "Current throttle state of the cooling device", ("name", "type")),
    MetricSpec("node_cooling_device_max_state", "gauge",
               "Maximum throttle state of the cooling device", ("name", "type")),
)


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    base = env.sys / "class/thermal"
    if not base.is_dir():
        raise Absent(f"{base} does not exist")
    out: list[Sample] = []
    for d in sorted(base.glob("thermal_zone*")):
        temp, kind = read_sys_value(d / "temp"), read_sys_value(d / "type")
        if temp is None or kind is None:
            continue  # a zone whose sensor fails to read (EIO/ENODATA) is skipped, as upstream
        out.append(Sample("node_thermal_zone_temp", int(temp) / 1000.0,
                          (("zone", d.name.removeprefix("thermal_zone")), ("type", kind))))
    for d in sorted(base.glob("cooling_device*")):
        cur, mx, kind = (read_sys_value(d / f) for f in ("cur_state", "max_state", "type"))
        if cur is None or mx is None or kind is None:
            continue
        labels = (("name", d.name.removeprefix("cooling_device")), ("type", kind))
        out += [Sample("node_cooling_device_cur_state", float(int(cur)), labels),
                Sample("node_cooling_device_max_state", float(int(mx)), labels)]
    return out


PART = Part("thermal_zone", METRICS, read)
