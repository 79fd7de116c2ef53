"""`pantau rules`: the alert rules for the central Prometheus, generated from the template
central_rules.yml beside this module.

Why generated: a runbook link in a phone notification is only useful when it is absolute (the
admin at 2 a.m. cannot resolve "docs/alerting.md#..."), and the office's wiki and Grafana are
per deployment. The template carries every rule once; this module writes
`alerts.runbook_base_url` into each runbook annotation and, when `alerts.dashboard_url` is
set, a `dashboard` annotation beside it ({site}/{check} become the alert's own labels). The
`role` label the Alertmanager example inhibits on is not written here: every check series
carries it already, derived by the agent from the dependency graph (agent/alerting/roles.py),
so PantauCheckDown alerts inherit it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TEMPLATE = Path(__file__).with_name("central_rules.yml")
# The base of the example file shipped in dashboards/prometheus/ (regenerated from it).
EXAMPLE_RUNBOOK_BASE = "https://wiki.diskominfo.example.go.id/pantau/alerting"
# Rule groups whose alerts carry a `check` label (the dashboard link can name the check).
CHECK_GROUPS = frozenset({"pantau-checks"})

_GROUP = re.compile(r"\s*- name: (\S+)\s*$")
_RUNBOOK = re.compile(r'(\s*)runbook: "RUNBOOK#(\w+)"\s*$')


def runbook_link(base: str, anchor: str) -> str:
    """base#anchor, or base with {alert} replaced (a wiki with one page per alert)."""
    if "{alert}" in base:
        return base.replace("{alert}", anchor)
    return f"{base.split('#', 1)[0]}#{anchor}"


def check_runbook(base: str) -> str:
    """The runbook of PantauCheckDown, the alert name the agent posts to Alertmanager."""
    return runbook_link(base, "pantaucheckdown") if base else ""


def _dashboard(template: str, group: str) -> str:
    check = "{{ $labels.check }}" if group in CHECK_GROUPS else "$__all"
    return template.replace("{site}", "{{ $labels.site }}").replace("{check}", check)


def is_absolute(url: str) -> bool:
    return url.startswith(("http://", "https://")) and len(url) >= 10 and " " not in url


def validate_base(url: str, what: str) -> None:
    if not is_absolute(url):
        raise ValueError(f"{what}: {url!r} is not an absolute http(s) URL, e.g. "
                         "https://wiki.diskominfo.example.go.id/pantau/alerting")


def rules_yaml(runbook_base: str, dashboard_url: str = "") -> str:
    """The rules file with absolute runbook links (and dashboard links when given)."""
    validate_base(runbook_base, "runbook base URL")
    if dashboard_url:
        validate_base(dashboard_url, "dashboard URL")
    out: list[str] = []
    group = ""
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#T"):  # about the template only
            continue
        if line.startswith("#G"):
            line = "#" + line[2:]
        if m := _GROUP.match(line):
            group = m.group(1)
        if m := _RUNBOOK.match(line):
            indent, anchor = m.groups()
            # JSON strings are valid YAML double-quoted scalars: any URL is quoted safely
            out.append(f"{indent}runbook: {json.dumps(runbook_link(runbook_base, anchor))}")
            if dashboard_url:
                out.append(f"{indent}dashboard: {json.dumps(_dashboard(dashboard_url, group))}")
            continue
        out.append(line)
    return "\n".join(out) + "\n"
