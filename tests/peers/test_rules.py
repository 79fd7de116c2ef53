"""The shipped Prometheus rules and Alertmanager routing: promtool, amtool, and a real
Alertmanager proving the inhibit rule (uplink down silences the site's service alerts)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.helpers.agent import free_port, run_cli
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


@contextlib.contextmanager
def example_alertmanager(tmp_path: Path) -> Iterator[str]:
    """The shipped example routing in a real Alertmanager on loopback; its receivers are
    replaced by a closed loopback port, so no example address is ever contacted."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load(AM_CONFIG.read_text())
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
                assert proc.poll() is None, "alertmanager exited"
                assert time.monotonic() < deadline, "alertmanager did not start"
                time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


def _alert_states(url: str) -> dict[tuple[str, str], list[str]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as r:
        data = json.load(r)
    return {(a["labels"]["site"], a["labels"]["check"]): a["status"]["inhibitedBy"]
            for a in data}


def test_uplink_down_inhibits_service_alerts_in_real_alertmanager(tmp_path: Path) -> None:
    with example_alertmanager(tmp_path) as url:
        now = datetime.now(UTC)
        ends = (now + timedelta(minutes=10)).isoformat()

        def alert(site: str, check: str, role: str) -> dict[str, object]:
            return {"labels": {"alertname": "PantauCheckDown", "site": site, "check": check,
                               "role": role, "severity": "critical"},
                    "startsAt": now.isoformat(), "endsAt": ends}

        _post(url, [alert("kab-a", "uplink", "uplink"), alert("kab-a", "portal", "service"),
                    alert("kab-a", "dns", "service"), alert("kab-b", "portal", "service")])

        deadline = time.monotonic() + 20
        got = _alert_states(url)
        while time.monotonic() < deadline and not got.get(("kab-a", "portal")):
            time.sleep(0.2)
            got = _alert_states(url)
        assert got[("kab-a", "portal")] and got[("kab-a", "dns")], got
        assert got[("kab-a", "uplink")] == []
        assert got[("kab-b", "portal")] == []  # another site's service is not inhibited


# --- generated rules: absolute runbook links, dashboard links, roles from the graph --------

BASE = "https://wiki.kab-contoh.go.id/pantau/alerting"
DASH = "https://grafana.kab-contoh.go.id/d/pantau-site/detail?var-site={site}&var-check={check}"
SITE = "kab-contoh"


def test_shipped_rules_are_the_generated_example() -> None:
    from agent.alerting.central import EXAMPLE_RUNBOOK_BASE, rules_yaml

    assert RULES.read_text() == rules_yaml(EXAMPLE_RUNBOOK_BASE), \
        "regenerate: pantau rules --runbook-base-url " + EXAMPLE_RUNBOOK_BASE + " -o " + str(RULES)
    for g in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in g["rules"]:
            assert rule["annotations"]["runbook"].startswith(EXAMPLE_RUNBOOK_BASE + "#")


def test_example_inhibit_rules_use_the_derived_roles() -> None:
    from agent.alerting import roles

    inhibit = yaml.safe_load(AM_CONFIG.read_text())["inhibit_rules"]
    uplink = [r for r in inhibit if f'{roles.LABEL}="{roles.UPLINK}"' in r["source_matchers"]]
    assert len(uplink) == 1
    assert uplink[0]["target_matchers"] == [f'{roles.LABEL}="{roles.SERVICE}"']
    assert uplink[0]["equal"] == ["site"]


def agent_check_labels() -> dict[str, dict[str, str]]:
    """The labels the real agent puts on its check series, for a config that sets no role."""
    from agent.alerting import Alerting
    from agent.config import AgentConfig
    from agent.store import Store

    cfg = AgentConfig.model_validate({
        "site": SITE, "host": {"enabled": False},
        "checks": [
            {"name": "uplink-telkom", "type": "tcp", "target": "127.0.0.1:1"},
            {"name": "portal", "type": "tcp", "target": "127.0.0.1:2",
             "depends_on": ["uplink-telkom"], "labels": {"team": "perizinan"}},
            {"name": "dns", "type": "dns", "target": "127.0.0.1", "query_name": "a.test",
             "depends_on": ["uplink-telkom"]},
            {"name": "printer", "type": "tcp", "target": "127.0.0.1:3"},
        ],
        "alerts": {"runbook_base_url": BASE, "dashboard_url": DASH}})
    alerting = Alerting(cfg, Store(SITE), None, SITE)
    return {dict(s.labels)["check"]: dict(s.labels) for s in alerting.samples()
            if s.name == "pantau_check_state_changes_total"}


def test_agent_derives_roles_from_the_dependency_graph() -> None:
    labels = agent_check_labels()
    assert labels["uplink-telkom"] == {"check": "uplink-telkom", "role": "uplink"}
    assert labels["portal"] == {"check": "portal", "role": "service", "team": "perizinan"}
    assert labels["dns"]["role"] == "service"
    assert "role" not in labels["printer"]  # on its own: nothing to inhibit or be inhibited by


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    all_labels = {"job": "pantau", "instance": "kantor:9877", "site": SITE, **labels}
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def test_generated_rules_with_promtool_and_alertmanager_inhibition(tmp_path: Path) -> None:
    """`pantau rules` with this office's links, checked and unit-tested by promtool on the
    series the agent really exposes (roles derived, none configured); the alerts the rules
    then raise go into the example Alertmanager: the uplink's inhibits the services'."""
    from agent.alerting.central import rules_yaml

    rules = tmp_path / "office.rules.yml"
    r = run_cli_rules(tmp_path, rules)
    assert r.returncode == 0, r.stderr
    assert rules.read_text() == rules_yaml(BASE, DASH)
    r = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr

    labels = agent_check_labels()
    down = "1 1 0x10"  # down from minute 2
    series = []
    for check in ("uplink-telkom", "portal", "dns"):
        series.append(_series("pantau_check_up", labels[check], down))
        # the services are down too; the agent did not (yet) mark them suppressed
        series.append(_series("pantau_check_suppressed", labels[check], "0x12"))

    def expected(check: str) -> dict[str, object]:
        return {
            "exp_labels": {"severity": "critical", "job": "pantau", "instance": "kantor:9877",
                           "site": SITE, **labels[check]},
            "exp_annotations": {
                "summary": f"{check} is down at {SITE}",
                "description": f"Check {check} at {SITE} has failed for more than a minute "
                               "(after flap damping).",
                "runbook": f"{BASE}#pantaucheckdown",
                "dashboard": DASH.replace("{site}", SITE).replace("{check}", check),
            }}

    tests = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "PantauCheckDown", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "PantauCheckDown",
             "exp_alerts": [expected(c) for c in ("dns", "portal", "uplink-telkom")]},
        ]}]}
    (tmp_path / "office.rules.test.yml").write_text(yaml.safe_dump(tests))
    r = subprocess.run(["promtool", "test", "rules", "office.rules.test.yml"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    # the host alerts link to the site's dashboard with every check
    host = next(rule for g in yaml.safe_load(rules.read_text())["groups"]
                for rule in g["rules"] if rule["alert"] == "PantauDiskSpaceLow")
    assert host["annotations"]["dashboard"] == DASH.replace(
        "{site}", "{{ $labels.site }}").replace("{check}", "$__all")

    with example_alertmanager(tmp_path / "am") as url:
        now = datetime.now(UTC)
        firing = [{"labels": {"alertname": "PantauCheckDown", **e["exp_labels"]},  # type: ignore[dict-item]
                   "annotations": e["exp_annotations"], "startsAt": now.isoformat(),
                   "endsAt": (now + timedelta(minutes=10)).isoformat()}
                  for e in (expected(c) for c in ("uplink-telkom", "portal", "dns"))]
        _post(url, firing)
        deadline = time.monotonic() + 20
        got = _alert_states(url)
        while time.monotonic() < deadline and not (got.get((SITE, "portal"))
                                                   and got.get((SITE, "dns"))):
            time.sleep(0.2)
            got = _alert_states(url)
        assert got[(SITE, "uplink-telkom")] == []
        assert got[(SITE, "portal")] and got[(SITE, "dns")], got
        with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true&inhibited=false",
                                    timeout=5) as resp:
            active = json.load(resp)
        assert [a["labels"]["check"] for a in active] == ["uplink-telkom"]
        assert active[0]["annotations"]["runbook"] == f"{BASE}#pantaucheckdown"


def run_cli_rules(tmp_path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "pantau.yml"
    cfg.write_text(yaml.safe_dump({
        "site": SITE, "state_dir": str(tmp_path / "state"),
        "checks": [{"name": "uplink", "type": "tcp", "target": "127.0.0.1:1"}],
        "alerts": {"runbook_base_url": BASE, "dashboard_url": DASH}}))
    return run_cli("rules", "--config", str(cfg), "--out", str(out))


def test_rules_cli_bad_input_exit_2(tmp_path: Path) -> None:
    r = run_cli("rules", "--runbook-base-url", "wiki/pantau")
    assert r.returncode == 2 and "not an absolute http(s) URL" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    cfg = tmp_path / "pantau.yml"
    cfg.write_text(yaml.safe_dump({"site": SITE, "checks": []}))
    r = run_cli("rules", "--config", str(cfg))
    assert r.returncode == 2 and "alerts.runbook_base_url" in r.stderr, r.stderr
