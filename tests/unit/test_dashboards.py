"""Dashboards and alert rules name only metrics pantau declares, and the committed JSON is
exactly what dashboards/generate.py produces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from agent.runtime import all_metric_specs
from dashboards import generate

ROOT = Path(__file__).resolve().parents[2]
METRIC_RE = re.compile(r"\b((?:pantau|node)_[a-zA-Z0-9_]+)\b")


def _declared() -> set[str]:
    return {s.name for s in all_metric_specs()}


def test_committed_dashboards_match_generator() -> None:
    for name, text in generate.render_all().items():
        path = ROOT / "dashboards" / "grafana" / name
        assert path.exists(), f"{name} missing: run python dashboards/generate.py"
        assert path.read_text() == text, f"{name} is stale: run python dashboards/generate.py"


def test_every_dashboard_metric_is_declared() -> None:
    declared = _declared()
    used: set[str] = set()
    for path in sorted((ROOT / "dashboards" / "grafana").glob("*.json")):
        board = json.loads(path.read_text())
        for _, expr in generate.queries(board):
            used.update(METRIC_RE.findall(expr))
        for var in board["templating"]["list"]:
            used.update(METRIC_RE.findall(json.dumps(var.get("query", ""))))
    assert used, "no metric found in the dashboards"
    assert not used - declared, f"dashboards use undeclared metrics: {sorted(used - declared)}"


def test_every_rule_metric_is_declared() -> None:
    rules = ROOT / "dashboards" / "prometheus" / "pantau.rules.yml"
    data = yaml.safe_load(rules.read_text())
    used: set[str] = set()
    for group in data["groups"]:
        for rule in group["rules"]:
            used.update(METRIC_RE.findall(rule["expr"]))
    assert used
    assert not used - _declared(), f"rules use undeclared metrics: {sorted(used - _declared())}"


def test_dashboards_have_template_variables() -> None:
    for path in sorted((ROOT / "dashboards" / "grafana").glob("*.json")):
        names = {v["name"] for v in json.loads(path.read_text())["templating"]["list"]}
        assert {"datasource", "site"} <= names, path.name


def test_paths_board_has_hop_heatmaps_per_path() -> None:
    """One row per path check (repeated by $path), with hops x time heatmaps of loss and RTT
    whose series are the hops."""
    board = generate.paths()
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == ["path"]
    heat = {p["title"]: p for p in board["panels"] if p["type"] == "heatmap"}
    assert set(heat) == {"Loss per hop", "Round-trip time per hop (avg)"}
    for p in heat.values():
        (target,) = p["targets"]
        assert target["format"] == "heatmap" and target["legendFormat"] == "{{hop}}"
        assert "by (hop)" in target["expr"] and 'check=~"$path"' in target["expr"]
    assert "pantau_path_hop_loss_ratio" in heat["Loss per hop"]["targets"][0]["expr"]
    assert "pantau_path_hop_rtt_seconds" in heat["Round-trip time per hop (avg)"][
        "targets"][0]["expr"]
    assert "path" in {v["name"] for v in board["templating"]["list"]}
