"""`pantau rules`: the central Prometheus alert rules with this office's runbook and dashboard
links (agent/alerting/central.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, config_path, fail, load, tr


def rules(
    config: ConfigOpt = None,
    runbook_base_url: Annotated[str | None, typer.Option(
        metavar="URL",
        help="Absolute URL of the runbook page (default: alerts.runbook_base_url).")] = None,
    dashboard_url: Annotated[str | None, typer.Option(
        metavar="URL",
        help="Grafana dashboard URL, {site}/{check} replaced by the alert's labels "
        "(default: alerts.dashboard_url).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: "
                                             "standard output).")] = None,
) -> None:
    """Print the Prometheus alert rules for the central server, every runbook link absolute;
    check alerts carry the role (uplink/service) the agents derive for the Alertmanager
    inhibit rules."""
    from agent.alerting.central import EXAMPLE_RUNBOOK_BASE, is_absolute, rules_yaml

    base, dash = runbook_base_url, dashboard_url
    if config_path(config) is not None and (base is None or dash is None):
        cfg = load(config)
        base = cfg.alerts.runbook_base_url if base is None else base
        dash = cfg.alerts.dashboard_url if dash is None else dash
    if not base:
        raise fail(tr("rules_base_needed"))
    for what, url in (("--runbook-base-url", base), ("--dashboard-url", dash)):
        if url and not is_absolute(url):
            raise fail(tr("bad_url", what=what, url=url, example=EXAMPLE_RUNBOOK_BASE))
    text = rules_yaml(base, dash or "")
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise fail(tr("cannot_write", path=out, detail=e.strerror), 1) from None
    typer.echo(tr("written", path=out))
