"""Availability (SLA) reports: the `reports:` section (config), the figures (availability),
their inputs from the history or a Prometheus server (history_source, prometheus_source,
build), the HTML/PDF/CSV/JSON output (render, templates/) and the monthly run (schedule)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from agent.reports.build import Report, config_maintenance, parse_period
    from agent.reports.config import ReportsConfig

__all__ = ["Report", "ReportsConfig", "config_maintenance", "parse_period"]

# Imported from their module on first use (collectors/common/lazy.py): the config models need
# ReportsConfig alone, and an agent builds and renders a report once a month at most. The
# functions build and render are imported from their modules (agent.reports.build,
# agent.reports.render): exported here lazily, their names would mean the function or the
# submodule depending on what was imported first.
_LAZY = {
    "Report": "agent.reports.build",
    "config_maintenance": "agent.reports.build",
    "parse_period": "agent.reports.build",
    "ReportsConfig": "agent.reports.config",
}
__getattr__ = lazy_exports(__name__, _LAZY, globals())
