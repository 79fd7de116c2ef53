"""Availability (SLA) reports: the `reports:` section (config), the figures (availability),
their inputs from the history or a Prometheus server (history_source, prometheus_source,
build), the HTML/PDF/CSV/JSON output (render, templates/) and the monthly run (schedule)."""

from agent.reports.build import Report, build, config_maintenance, parse_period
from agent.reports.config import ReportsConfig
from agent.reports.render import render

__all__ = ["Report", "ReportsConfig", "build", "config_maintenance", "parse_period", "render"]
