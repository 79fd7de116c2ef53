"""hwmon: temperatures, fans and voltages from /sys/class/hwmon, under node_exporter 1.5's names.

node_exporter builds family names from the sysfs file names (temp1_crit_alarm ->
node_hwmon_temp_crit_alarm_celsius, millidegrees scaled by 0.001 like every temp element).
pantau declares its families up front, so it covers the temp, fan and voltage elements the
community dashboards query; other elements are named in details, not guessed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part, read_sys_value

_LABELS = ("chip", "sensor")
_INVALID = re.compile(r"[^a-z0-9:_]")
_FILE_RE = re.compile(r"^(temp|fan|in)(\d+)_(.+)$")

# (sensor type, element) -> (family, scale, HELP)
_ELEMENTS: dict[tuple[str, str], tuple[str, float, str]] = {}
for _el in ("input", "max", "min", "crit", "crit_hyst", "crit_alarm", "max_alarm", "min_alarm",
            "emergency", "lcrit"):
    _ELEMENTS[("temp", _el)] = (
        "node_hwmon_temp_celsius" if _el == "input" else f"node_hwmon_temp_{_el}_celsius",
        0.001, f"Hardware monitor for temperature ({_el})")
for _el in ("input", "min", "max", "target"):
    _ELEMENTS[("fan", _el)] = (
        "node_hwmon_fan_rpm" if _el == "input" else f"node_hwmon_fan_{_el}_rpm",
        1.0, f"Hardware monitor for fan revolutions per minute ({_el})")
for _el in ("input", "min", "max"):
    _ELEMENTS[("in", _el)] = (
        "node_hwmon_in_volts" if _el == "input" else f"node_hwmon_in_{_el}_volts",
        0.001, f"Hardware monitor for voltage ({_el})")

METRICS = (
    MetricSpec("node_hwmon_chip_names", "gauge",
               "Annotation metric for human-readable chip names", ("chip", "chip_name")),
    MetricSpec("node_hwmon_sensor_label", "gauge", "Label for given chip and sensor",
               ("chip", "sensor", "label")),
    *(MetricSpec(name, "gauge", text, _LABELS) for name, _, text in _ELEMENTS.values()),
)


def clean(name: str) -> str:
    return _INVALID.sub("_", name.strip().lower()).strip("_")


def chip_name(hwmon_dir: Path) -> str:
    """node_exporter's stable chip id: <bus type>_<device> from the device link (e.g.
    platform_coretemp_0), else the chip's `name` file, else hwmonN."""
    try:
        dev = os.path.realpath(hwmon_dir / "device")
        if os.path.exists(dev) and os.path.realpath(hwmon_dir) != dev:
            parent, dev_name = os.path.split(dev)
            dev_type = os.path.basename(parent)
            if clean(dev_type) and clean(dev_name):
                return f"{clean(dev_type)}_{clean(dev_name)}"
            if clean(dev_name):
                return clean(dev_name)
    except OSError:
        pass
    raw = read_sys_value(hwmon_dir / "name")
    if raw and clean(raw):
        return clean(raw)
    return clean(os.path.basename(os.path.realpath(hwmon_dir)))


def chip_samples(hwmon_dir: Path, details: dict[str, Any]) -> list[Sample]:
    chip = chip_name(hwmon_dir)
    out: list[Sample] = []
    name = read_sys_value(hwmon_dir / "name")
    if name:
        out.append(Sample("node_hwmon_chip_names", 1.0, (("chip", chip), ("chip_name", name))))
    # Some drivers put the sensor files in the device directory instead.
    dirs = [hwmon_dir, hwmon_dir / "device"]
    seen: set[str] = set()
    for d in dirs:
        try:
            files = sorted(f for f in os.listdir(d) if _FILE_RE.match(f))
        except OSError:
            continue
        for fname in files:
            if fname in seen:
                continue
            seen.add(fname)
            m = _FILE_RE.match(fname)
            assert m is not None
            kind, num, element = m.groups()
            sensor = f"{kind}{num}"
            raw = read_sys_value(d / fname)
            if raw is None:
                continue
            labels = (("chip", chip), ("sensor", sensor))
            if element == "label":
                out.append(Sample("node_hwmon_sensor_label", 1.0,
                                  (("chip", chip), ("sensor", sensor), ("label", raw))))
                continue
            spec = _ELEMENTS.get((kind, element))
            if spec is None:
                details.setdefault("hwmon_undeclared", []).append(f"{chip}/{fname}")
                continue
            try:
                value = int(raw)
            except ValueError:
                continue
            out.append(Sample(spec[0], value * spec[1], labels))
    return out


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    base = env.sys / "class/hwmon"
    try:
        chips = sorted(base.iterdir())
    except FileNotFoundError:
        raise Absent(f"{base} does not exist") from None
    out: list[Sample] = []
    for d in chips:
        out.extend(chip_samples(d, details))
    return out


PART = Part("hwmon", METRICS, read)
