"""A report from its inputs: the agent's own history or a Prometheus server, the configured
maintenance, then the figures of agent/reports/availability.py per check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from agent.reports.availability import (
    CheckAvailability,
    Event,
    Maintenance,
    SiteData,
    compute,
    day_spans,
)
from agent.reports.config import Lang, ReportsConfig
from collectors.common.timefmt import resolve_zone

if TYPE_CHECKING:
    from agent.config import AgentConfig


@dataclass
class Report:
    period: tuple[datetime, datetime]
    tz_name: str
    lang: Lang
    generated: datetime
    source: str
    rows: list[CheckAvailability]
    maintenance: list[Maintenance]
    config: ReportsConfig = field(default_factory=ReportsConfig)  # office, signatures, limits
    events: list[Event] = field(default_factory=list)  # route changes in the period
    # Where the reader looks further: the status page and a Grafana dashboard URL template
    # ({site}, {check}); empty when not configured.
    status_url: str = ""
    dashboard_url: str = ""

    def dashboard_link(self, site: str, check: str) -> str:
        """The dashboard of one check ({site}/{check} replaced); "" when not configured."""
        return self.dashboard_url.replace("{site}", site).replace("{check}", check)

    def header_dashboard_link(self) -> str:
        """The report-wide dashboard link: every check ($__all, Grafana's "All"), the site
        when the report has one."""
        sites = sorted({r.site for r in self.rows})
        url = self.dashboard_url.replace("{check}", "$__all")
        return url.replace("{site}", sites[0] if len(sites) == 1 else "$__all")


def build_report(
    sites: Sequence[SiteData],
    period: tuple[datetime, datetime],
    cfg: ReportsConfig,
    *,
    lang: Lang | None = None,
    source: str = "history",
    now: datetime | None = None,
) -> Report:
    now = now or datetime.now(period[0].tzinfo)
    days = day_spans(period)
    rows: list[CheckAvailability] = []
    maint_all: list[Maintenance] = []
    for s in sites:
        maint_all.extend(s.maintenance)
        for check in s.checks:
            rows.append(
                compute(check, s.site, cfg.slo_per_check.get(check, cfg.slo), period,
                        s.outages, s.maintenance, s.monitored_from.get(check), now, days,
                        min_coverage=cfg.min_coverage,
                        ignore_shorter_than=cfg.ignore_shorter_than,
                        max_outages=cfg.max_outages)
            )
    events = sorted((e for s in sites for e in s.events if period[0] <= e.at < period[1]),
                    key=lambda e: (e.at, e.check))
    return Report(period, cfg.timezone, lang or cfg.language, now, source, rows, maint_all, cfg,
                  events)


def config_maintenance(cfg: ReportsConfig, tz: ZoneInfo) -> list[Maintenance]:
    out = []
    for m in cfg.maintenance:
        start = m.start if m.start.tzinfo else m.start.replace(tzinfo=tz)
        end = m.end if m.end.tzinfo else m.end.replace(tzinfo=tz)
        out.append(Maintenance(start, end, tuple(m.checks), m.reason))
    return out


def parse_period(from_: str, to: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """--from/--to as dates (local midnight) or ISO datetimes; clear error otherwise."""

    def one(text: str, what: str) -> datetime:
        try:
            if len(text) == 10:
                dd = date.fromisoformat(text)
                return datetime(dd.year, dd.month, dd.day, tzinfo=tz)
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what}: {text!r} is not a date like 2026-11-01") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=tz)

    start, end = one(from_, "--from"), one(to, "--to")
    if end <= start:
        raise ValueError("--to must be after --from")
    return start, end


def build(cfg: AgentConfig, period: tuple[datetime, datetime], *, site: str | None = None,
          prometheus: str | None = None, step: float = 15.0, lang: str | None = None,
          now: datetime | None = None) -> Any:
    """Gather the inputs (history or Prometheus) and compute the report."""
    rcfg = cfg.reports
    tz = resolve_zone(rcfg.timezone)
    maint = config_maintenance(rcfg, tz)
    if prometheus:
        from agent.reports.prometheus_source import sites_from_prometheus

        sites = sites_from_prometheus(prometheus, period, site=site, step=step, now=now)
        source = f"Prometheus {prometheus}"
    else:
        from agent.reports.history_source import sites_from_history

        sites = sites_from_history(cfg, period, now=now)
        source = "history"  # rendered per language: the agent's own outage history
        if site is not None:
            sites = [s for s in sites if s.site == site]
    for s in sites:
        s.maintenance.extend(maint)
    if not prometheus:
        from agent.reports.history_source import maintenance_from_history

        for s in sites:
            s.maintenance.extend(maintenance_from_history(cfg))
    rep = build_report(sites, period, rcfg, lang=lang, source=source, now=now)  # type: ignore[arg-type]
    rep.status_url = rcfg.status_url or cfg.alerts.status_url
    rep.dashboard_url = rcfg.dashboard_url or cfg.alerts.dashboard_url
    return rep
