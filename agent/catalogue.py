"""The metric catalogue (docs/metrics.md), generated from the collectors' METRICS declarations.

A test regenerates it and fails when the committed file differs, so the docs cannot drift from
what the code emits. Regenerate with: `pantau metrics --markdown > docs/metrics.md`.
"""

from __future__ import annotations

from collectors.base import MetricSpec

HEADER = """# pantau metric catalogue

Generated from the `METRICS` declarations in the code by `pantau metrics --markdown`; a test
fails when this file and the code disagree. Every series also carries `site` (the office);
series of configured checks carry `check` (the check name) and the check's own `labels`.
Host metrics keep node_exporter's names so existing dashboards and rules work unchanged.

| metric | type | labels | help |
| --- | --- | --- | --- |
"""


def render_markdown(specs: list[MetricSpec]) -> str:
    seen: dict[str, MetricSpec] = {}
    for spec in specs:
        seen.setdefault(spec.name, spec)
    rows = []
    for name in sorted(seen):
        s = seen[name]
        labels = ", ".join(s.labels) if s.labels else "-"
        help_text = s.help.replace("|", "\\|")
        rows.append(f"| `{name}` | {s.kind} | {labels} | {help_text} |\n")
    return HEADER + "".join(rows) + _blackbox_section()


def _blackbox_section() -> str:
    from agent.probe.blackbox import blackbox_families

    rows = [
        "\n## blackbox_exporter names\n\n"
        "/probe answers modules read from `probe_modules_file` (a blackbox.yml) with "
        "blackbox_exporter 0.23's names, labels and meanings, without `site`, so its "
        "dashboards and alert rules work unchanged. All are gauges.\n\n"
        "| metric | labels | help |\n| --- | --- | --- |\n"]
    for name, labels, help_text in blackbox_families():
        rows.append(f"| `{name}` | {', '.join(labels) or '-'} | {help_text} |\n")
    return "".join(rows)
