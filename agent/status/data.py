"""What the status pages read from the outage history and the config, blocking (run in a
thread): each call opens its own read-only connection, so it never waits on, or holds up,
the alert engine's writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from agent.reports.availability import Maintenance
from collectors.common.timefmt import resolve_zone

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.history import History

T = TypeVar("T")


@dataclass
class Availability:
    ratio: float | None  # None: nothing monitored yet this month
    target: float


def _read_history(cfg: AgentConfig, read: Callable[[History], list[T]]) -> list[T]:
    """What `read` finds in the history, read-only; [] when there is no history yet, or it
    is from before the table `read` needs."""
    import sqlite3

    from agent.history import History, HistoryError

    try:
        hist = History.open(cfg.state_dir, cfg.site, readonly=True)
    except HistoryError:
        return []
    try:
        return read(hist)
    except sqlite3.Error:  # e.g. a history from before events
        return []
    finally:
        hist.close()


def changes_since(cfg: AgentConfig, check: str,
                  since: float) -> list[tuple[float, str, str, str, str, str]]:
    return _read_history(cfg, lambda h: [(r.ts, r.old, r.new, r.reason, r.root_cause, r.verdict)
                                         for r in h.state_changes(check, since, limit=5000)])


def events_since(cfg: AgentConfig, check: str,
                 since: float) -> list[tuple[float, str, dict[str, Any]]]:
    """(time, kind, detail) of the check's recorded events (route changes) since `since`."""
    return _read_history(cfg, lambda h: [(r.ts, r.kind, r.detail)
                                         for r in h.events(check, since, limit=5000)])


def month_period(now: float, zone: ZoneInfo) -> tuple[datetime, datetime]:
    today = datetime.fromtimestamp(now, zone)
    start = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return start, nxt


def maintenance_windows(cfg: AgentConfig) -> list[tuple[str, Maintenance]]:
    from agent.reports import config_maintenance
    from agent.reports.history_source import maintenance_from_history

    zone = resolve_zone(cfg.reports.timezone)
    return [*(("config", m) for m in config_maintenance(cfg.reports, zone)),
            *(("history", m) for m in maintenance_from_history(cfg))]


def compute_month(cfg: AgentConfig, now: float) -> tuple[dict[str, Availability],
                                                         list[tuple[str, Maintenance]]]:
    """This month's availability per check against its target, and the maintenance windows."""
    from agent.reports.availability import compute
    from agent.reports.history_source import sites_from_history
    zone = resolve_zone(cfg.reports.timezone)
    period = month_period(now, zone)
    when = datetime.fromtimestamp(now, zone)
    windows = maintenance_windows(cfg)
    maint = [m for _, m in windows]
    out: dict[str, Availability] = {}
    for site in sites_from_history(cfg, period, now=when):
        for check in cfg.checks:
            slo = cfg.reports.slo_per_check.get(check.name, cfg.reports.slo)
            a = compute(check.name, site.site, slo, period, site.outages, maint,
                        site.monitored_from.get(check.name), when).availability
            out[check.name] = Availability(a, slo)
    return out, windows


def outages_between(cfg: AgentConfig, frm: float, to: float, now: float) -> list[Any]:
    from agent.reports.history_source import sites_from_history

    zone = resolve_zone(cfg.reports.timezone)
    period = (datetime.fromtimestamp(frm, zone), datetime.fromtimestamp(to, zone))
    out = []
    for site in sites_from_history(cfg, period, now=datetime.fromtimestamp(now, zone)):
        for o in site.outages:
            if o.start.timestamp() < to and (o.end is None or o.end.timestamp() > frm):
                out.append(o)
    return out


def add_note(cfg: AgentConfig, check: str, at: float, note: str) -> float:
    """Attach `note` to the outage of `check` going on at `at`, else the last one before it;
    returns that outage's start. LookupError when there is none."""
    from agent.history import History
    from agent.reports.history_source import sites_from_history

    zone = resolve_zone(cfg.reports.timezone)
    period = (datetime.fromtimestamp(0, zone), datetime.fromtimestamp(at + 1, zone))
    starts = [o.start.timestamp() for s in sites_from_history(cfg, period)
              for o in s.outages if o.check == check and o.start.timestamp() <= at]
    if not starts:
        raise LookupError(f"no outage of {check!r} recorded before that time")
    start = max(starts)
    hist = History.open(cfg.state_dir, cfg.site)
    try:
        hist.add_incident_note(check, start, note)
    finally:
        hist.close()
    return start
