"""The shipped Prometheus rules and Alertmanager routing: promtool, amtool, and a real
Alertmanager proving the inhibit rule (uplink down silences the site's service alerts)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.helpers.agent import free_port
from tests.helpers.notify_peers import ALERTMANAGER
from tests.helpers.procs import stop_process

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "dashboards" / "prometheus" / "pantau.rules.yml"
RULE_TESTS = REPO / "dashboards" / "prometheus" / "pantau.rules.test.yml"
AM_CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"

# PromQL words that look like metric names but are not.
_NOT_METRICS = {
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "by", "without",
    "bool", "offset", "time", "rate", "increase", "absent", "count", "sum", "avg", "max", "min",
    "predict_linear", "changes", "label_replace", "humanize", "humanizePercentage",
    "humanizeDuration", "up",
}


def test_promtool_check_rules() -> None:
    r = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_promtool_rule_unit_tests() -> None:
    r = subprocess.run(["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True,
                       text=True, timeout=120, cwd=RULE_TESTS.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    # every alert in the rules file has at least one unit test
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts - tested == set(), f"alerts without a unit test: {alerts - tested}"


def test_amtool_check_config() -> None:
    r = subprocess.run(["amtool", "check-config", str(AM_CONFIG)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_rules_only_use_metrics_pantau_declares() -> None:
    from agent.runtime import all_metric_specs

    declared = {s.name for s in all_metric_specs()}
    used: set[str] = set()
    for g in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in g["rules"]:
            expr = re.sub(r'"[^"]*"', "", rule["expr"])  # drop label values
            expr = re.sub(r"\{[^}]*\}", "", expr)  # drop matchers
            expr = re.sub(r"\[[^\]]*\]", "", expr)  # drop ranges
            # drop label lists of by/on/ignoring/without/group_left/group_right
            expr = re.sub(r"\b(by|on|ignoring|without|group_left|group_right)\s*\([^)]*\)",
                          r"\1", expr)
            used |= {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
                     if w not in _NOT_METRICS and not w.isdigit()}
    assert used, "no metric found in the rules"
    missing = sorted(used - declared)
    assert missing == [], f"rules use metrics no collector declares: {missing}"


def _post(url: str, alerts: list[dict[str, object]]) -> None:
    req = urllib.request.Request(f"{url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def test_uplink_down_inhibits_service_alerts_in_real_alertmanager(tmp_path: Path) -> None:
    cfg = yaml.safe_load(AM_CONFIG.read_text())
    # never contact the example receivers: every receiver points at a closed loopback port
    dead = f"http://127.0.0.1:{free_port()}/"
    cfg["receivers"] = [{"name": r["name"], "webhook_configs": [{"url": dead}]}
                        for r in cfg["receivers"]]
    cfg["global"] = {"resolve_timeout": "5m"}
    (tmp_path / "am.yml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "alertmanager did not start"
                time.sleep(0.2)
        now = datetime.now(UTC)
        ends = (now + timedelta(minutes=10)).isoformat()

        def alert(site: str, check: str, role: str) -> dict[str, object]:
            return {"labels": {"alertname": "PantauCheckDown", "site": site, "check": check,
                               "role": role, "severity": "critical"},
                    "startsAt": now.isoformat(), "endsAt": ends}

        _post(url, [alert("kab-a", "uplink", "uplink"), alert("kab-a", "portal", "service"),
                    alert("kab-a", "dns", "service"), alert("kab-b", "portal", "service")])

        def states() -> dict[tuple[str, str], list[str]]:
            with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as r:
                data = json.load(r)
            return {(a["labels"]["site"], a["labels"]["check"]): a["status"]["inhibitedBy"]
                    for a in data}

        deadline = time.monotonic() + 20
        got = states()
        while time.monotonic() < deadline and not got.get(("kab-a", "portal")):
            time.sleep(0.2)
            got = states()
        assert got[("kab-a", "portal")] and got[("kab-a", "dns")], got
        assert got[("kab-a", "uplink")] == []
        assert got[("kab-b", "portal")] == []  # another site's service is not inhibited
    finally:
        stop_process(proc)
