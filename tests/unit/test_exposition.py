"""The exposition renders valid Prometheus text (checked by the real promtool)."""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess

import pytest

from collectors.base import MetricSpec, Sample
from exporters.exposition import Exposition

SPECS = [
    MetricSpec("pantau_probe_success", "gauge", "1 if the probe succeeded.", ("type", "target")),
    MetricSpec("pantau_if_in_octets_total", "counter", "Octets in.", ("device", "ifname")),
    MetricSpec("pantau_build_info", "info", "Build.", ("version",)),
]


def _expo() -> Exposition:
    e = Exposition(SPECS)
    e.update("check:a", [
        Sample.of("pantau_probe_success", 1, site="s", check="a", type="icmp", target="10.0.0.1"),
        Sample.of("pantau_if_in_octets_total", 2**40, site="s", device="sw1", ifname='ge"1\\x\n'),
    ])
    e.update("check:b", [
        Sample.of("pantau_probe_success", 0, site="s", check="b", type="http", target="x"),
        Sample("undeclared_metric", 1.0),
    ])
    e.update("self", [Sample.of("pantau_build_info", 1, site="s", version="1.0")])
    e.refresh()
    return e


def test_families_grouped_and_escaped() -> None:
    body = _expo().body().decode()
    assert body.count("# TYPE pantau_probe_success gauge") == 1
    assert 'ifname="ge\\"1\\\\x\\n"' in body
    assert "pantau_if_in_octets_total{" in body and " 1099511627776\n" in body
    assert "undeclared_metric" not in body


def test_undeclared_counted_and_remove() -> None:
    e = _expo()
    assert e.undeclared_samples == 1
    e.remove("check:b")
    assert e.refresh() is True
    assert 'check="b"' not in e.body().decode()
    assert e.refresh() is False  # nothing changed, nothing rendered


def test_gzip_matches_plain() -> None:
    e = _expo()
    assert gzip.decompress(e.body(use_gzip=True)) == e.body()


def test_special_values() -> None:
    e = Exposition([MetricSpec("x_seconds", "gauge", "x", ("k",))])
    e.update("a", [Sample.of("x_seconds", math.inf, k="a"), Sample.of("x_seconds", math.nan, k="b"),
                   Sample.of("x_seconds", 0.25, k="c")])
    e.refresh()
    body = e.body().decode()
    assert 'x_seconds{k="a"} +Inf' in body and 'x_seconds{k="b"} NaN' in body
    assert 'x_seconds{k="c"} 0.25' in body


def test_promtool_check_metrics_clean() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run tests/install-deps.sh"
    r = subprocess.run([promtool, "check", "metrics"], input=_expo().body(), capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == b"" and r.stderr.strip() == b"", r.stdout + r.stderr



@pytest.mark.parametrize("other", [
    MetricSpec("pantau_x_total", "counter", "Other help.", ("playbook",)),
    MetricSpec("pantau_x_total", "counter", "Runs.", ("playbook", "host")),
    MetricSpec("pantau_x_total", "gauge", "Runs.", ("playbook",)),
])
def test_a_family_declared_twice_differently_is_refused(other: MetricSpec) -> None:
    exp = Exposition([MetricSpec("pantau_x_total", "counter", "Runs.", ("playbook",))])
    exp.declare([MetricSpec("pantau_x_total", "counter", "Runs.", ("playbook",))])  # same: fine
    with pytest.raises(ValueError, match="pantau_x_total declared twice differently"):
        exp.declare([other])


def test_every_family_pantau_can_emit_is_declared_once() -> None:
    from agent.runtime import all_metric_specs

    specs = all_metric_specs()
    Exposition(specs)  # raises if two parts disagree on a family
    differing = {s.name for s in specs if len({x for x in specs if x.name == s.name}) > 1}
    assert differing == set()
