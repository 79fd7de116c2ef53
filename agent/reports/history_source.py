"""Report inputs from the agent's own outage history (state_dir/history.db), read-only.

Outages are taken from the recorded state changes, suppressed ones included: a portal that
citizens could not reach was down for them whatever the root cause, and the root cause is
shown beside it. A check is monitored from its first recorded state.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.history import History, HistoryError
from agent.reports.availability import (
    Event,
    Maintenance,
    SiteData,
    Transition,
    outages_from_transitions,
)

if TYPE_CHECKING:
    from agent.config import AgentConfig


def _open(cfg: AgentConfig, readonly: bool = True) -> History | None:
    try:
        hist = History.open(cfg.state_dir, cfg.site, readonly=readonly)
    except HistoryError:
        if readonly:
            return None
        raise
    if readonly and int(hist.conn.execute("PRAGMA user_version").fetchone()[0]) == 0:
        # The file exists but the agent has not created its tables yet: nothing recorded.
        hist.close()
        return None
    return hist


def sites_from_history(cfg: AgentConfig, period: tuple[datetime, datetime],
                       now: datetime | None = None) -> list[SiteData]:
    tz = period[0].tzinfo or UTC
    configured = [c.name for c in cfg.checks]
    site = SiteData(cfg.site, list(configured))
    hist = _open(cfg)
    if hist is None:
        # No history yet: nothing was monitored, say so rather than report 100 %.
        horizon = now or datetime.now(tz)
        site.monitored_from = {c: horizon for c in configured}
        return [site]
    try:
        rows = hist.conn.execute(
            "SELECT check_name, ts, new_state, reason, root_cause FROM state_changes"
            " WHERE site = ? AND ts < ? ORDER BY ts, id",
            (cfg.site, period[1].timestamp()),
        ).fetchall()
        try:
            notes = {(c, round(at, 3)): n for c, at, n in hist.incident_notes()}
        except sqlite3.Error:  # a history from before incident notes
            notes = {}
        try:  # the first acknowledgement of each outage
            acks: dict[tuple[str, float], tuple[str, float]] = {}
            for a in hist.acknowledgements():
                acks.setdefault((a["check_name"], round(a["since"], 3)),
                                (str(a["by_name"]), float(a["at"])))
        except sqlite3.Error:  # a history from before acknowledgements
            acks = {}
        try:  # route changes in the period, for the timeline
            site.events = [Event(datetime.fromtimestamp(e.ts, tz), e.check, e.kind, e.detail,
                                 cfg.site)
                           for e in hist.events(since=period[0].timestamp(),
                                                until=period[1].timestamp(), limit=10000)]
        except sqlite3.Error:  # a history from before events
            site.events = []
    finally:
        hist.close()
    transitions = []
    first_seen: dict[str, float] = {}
    for check, ts, state, reason, root_cause in rows:
        first_seen.setdefault(check, ts)
        transitions.append(Transition(datetime.fromtimestamp(ts, tz), check,
                                      str(state), str(root_cause), str(reason)))
        if check not in site.checks:
            site.checks.append(check)  # removed from the config since: still reported
    horizon = now or datetime.now(tz)
    for check in site.checks:
        ts0 = first_seen.get(check)
        site.monitored_from[check] = (datetime.fromtimestamp(ts0, tz) if ts0 is not None
                                      else horizon)
    site.outages = []
    for o in outages_from_transitions(transitions):
        key = (o.check, round(o.start.timestamp(), 3))
        if key in notes:
            o = replace(o, note=notes[key])
        if key in acks:
            by, at = acks[key]
            o = replace(o, ack_by=by, ack_at=datetime.fromtimestamp(at, tz))
        site.outages.append(o)
    return [site]


def maintenance_from_history(cfg: AgentConfig) -> list[Maintenance]:
    hist = _open(cfg)
    if hist is None:
        return []
    try:
        rows = hist.maintenance_windows()
    finally:
        hist.close()
    return [Maintenance(datetime.fromtimestamp(r["start"], UTC),
                        datetime.fromtimestamp(r["end"], UTC),
                        tuple(r["checks"]), r["reason"]) for r in rows]


def add_maintenance(cfg: AgentConfig, start: datetime, end: datetime, checks: tuple[str, ...],
                    reason: str) -> None:
    hist = _open(cfg, readonly=False)
    assert hist is not None
    try:
        hist.add_maintenance(start.timestamp(), end.timestamp(), checks, reason)
    finally:
        hist.close()


def history_maintenance_rows(cfg: AgentConfig) -> list[dict[str, Any]]:
    """The recorded windows with their ids (for `pantau maintenance list/edit/remove`)."""
    hist = _open(cfg)
    if hist is None:
        return []
    try:
        return hist.maintenance_windows()
    finally:
        hist.close()


def remove_maintenance(cfg: AgentConfig, window_id: int) -> bool:
    hist = _open(cfg, readonly=False)
    assert hist is not None
    try:
        return hist.remove_maintenance(window_id)
    finally:
        hist.close()


def edit_maintenance(cfg: AgentConfig, window_id: int, *, start: datetime | None,
                     end: datetime | None, checks: tuple[str, ...] | None,
                     reason: str | None) -> bool:
    hist = _open(cfg, readonly=False)
    assert hist is not None
    try:
        return hist.update_maintenance(
            window_id, start=start.timestamp() if start else None,
            end=end.timestamp() if end else None, checks=checks, reason=reason)
    finally:
        hist.close()
