"""Metrics every probe check (icmp, tcp, dns, http) emits, so one alert rule covers them all.

`pantau_probe_success` / `pantau_probe_duration_seconds` mirror blackbox_exporter's
probe_success / probe_duration_seconds; the `type` and `target` labels let a dashboard or an
alert rule select probes without knowing each collector's own metric names.
"""

from __future__ import annotations

from collectors.base import MetricSpec, Sample

PROBE_SUCCESS = MetricSpec(
    "pantau_probe_success", "gauge",
    "1 if the probe succeeded, 0 if not (the reason is in the check's details).",
    ("type", "target"),
)
PROBE_DURATION = MetricSpec(
    "pantau_probe_duration_seconds", "gauge",
    "How long the probe took, failed or not.", ("type", "target"), unit="seconds",
)
PROBE_METRICS: tuple[MetricSpec, ...] = (PROBE_SUCCESS, PROBE_DURATION)


def probe_samples(type_: str, target: str, success: bool, duration: float) -> list[Sample]:
    """The two common samples for one probe run."""
    return [
        Sample.of(PROBE_SUCCESS.name, 1.0 if success else 0.0, type=type_, target=target),
        Sample.of(PROBE_DURATION.name, max(0.0, duration), type=type_, target=target),
    ]
