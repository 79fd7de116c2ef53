"""Availability arithmetic for SLA reports: pure functions over time intervals.

Kept apart from where the history comes from (the agent's SQLite history or a Prometheus
server) and from how the report looks, so the numbers a manager signs can be tested on
constructed histories with exactly known answers.

Definitions (stated in every report):
- monitored time: the part of the period after the check was first configured (and up to now
  for a period that has not ended), minus planned maintenance;
- downtime: the union of outage intervals inside the monitored time; an outage the agent was
  restarted in the middle of is one outage (the state is restored from history on start);
- availability = 1 - downtime / monitored time; the SLO is met when availability >= target;
- coverage = monitored time / expected time, where expected time is the elapsed part of the
  period minus planned maintenance: seven minutes of data in two days is 0.24 % coverage, and
  an availability over so little time is not shown (below `min_coverage`);
- error budget = (1 - target) * monitored time, reported in minutes: left, or used beyond it;
- an interruption shorter than `ignore_shorter_than` seconds (one that ended) is not an outage
  (Checkmk's "short interruptions"): neither downtime nor counted, only tallied as ignored;
- the optional outage target is met when the number of outages is at most `max_outages`;
- upstream downtime = the part of the downtime of outages recorded "unreachable" or whose
  recorded root cause is another check (cut off because the office link was down), shown
  apart from the service's own;
- MTTR = mean downtime per outage that ended inside the period (outages still open at the end
  of the period are counted but not in MTTR).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Span = tuple[datetime, datetime]


def merge(spans: Iterable[Span]) -> list[Span]:
    """Union of half-open intervals, sorted and non-overlapping."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(spans: Iterable[Span], window: Span) -> list[Span]:
    lo, hi = window
    return [(max(s, lo), min(e, hi)) for s, e in spans if e > lo and s < hi]


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """`spans` minus `holes`; both may overlap themselves."""
    result: list[Span] = []
    holes_m = merge(holes)
    for start, end in merge(spans):
        cur = start
        for hs, he in holes_m:
            if he <= cur or hs >= end:
                continue
            if hs > cur:
                result.append((cur, hs))
            cur = max(cur, he)
            if cur >= end:
                break
        if cur < end:
            result.append((cur, end))
    return result


def total(spans: Iterable[Span]) -> float:
    return sum((e - s).total_seconds() for s, e in merge(spans))


@dataclass(frozen=True)
class Outage:
    check: str
    start: datetime
    end: datetime | None  # None: still down
    root_cause: str = ""
    reason: str = ""
    note: str = ""  # the office's public note (`pantau incident note`)
    ack_by: str = ""  # who took the outage on (the on-call bot's Ack)
    ack_at: datetime | None = None
    # recorded as "unreachable": cut off by an upstream failure from its start, not down itself
    unreachable: bool = False

    @property
    def upstream(self) -> bool:
        """Caused by another check: recorded unreachable, or root cause another check."""
        return self.unreachable or bool(self.root_cause and self.root_cause != self.check)


@dataclass(frozen=True)
class Maintenance:
    start: datetime
    end: datetime
    checks: tuple[str, ...] = ()  # empty: the whole site
    reason: str = ""

    def covers(self, check: str) -> bool:
        return not self.checks or check in self.checks


@dataclass
class OutageInPeriod:
    outage: Outage
    downtime: float  # seconds inside the monitored time
    in_maintenance: float  # seconds that fell into planned maintenance


@dataclass
class CheckAvailability:
    check: str
    site: str
    slo: float  # target ratio, e.g. 0.995
    monitored_seconds: float
    downtime_seconds: float
    maintenance_seconds: float
    outages: list[OutageInPeriod] = field(default_factory=list)
    daily: list[tuple[datetime, float | None]] = field(default_factory=list)
    expected_seconds: float = 0.0  # elapsed period minus maintenance: the coverage denominator
    min_coverage: float = 0.0
    max_outages: int | None = None
    ignored_short: int = 0  # interruptions below ignore_shorter_than, not counted

    @property
    def coverage(self) -> float | None:
        if self.expected_seconds <= 0:
            return None
        return min(1.0, self.monitored_seconds / self.expected_seconds)

    @property
    def enough_data(self) -> bool:
        c = self.coverage
        return c is not None and self.monitored_seconds > 0 and c >= self.min_coverage - 1e-12

    @property
    def raw_availability(self) -> float | None:
        """Over monitored time, whatever the coverage (JSON keeps it for the curious)."""
        if self.monitored_seconds <= 0:
            return None
        return 1.0 - self.downtime_seconds / self.monitored_seconds

    @property
    def availability(self) -> float | None:
        """None when too little of the period was monitored to say anything."""
        return self.raw_availability if self.enough_data else None

    @property
    def outage_target_met(self) -> bool | None:
        if self.max_outages is None or not self.enough_data:
            return None
        return self.outage_count <= self.max_outages

    @property
    def slo_met(self) -> bool | None:
        a = self.availability
        return None if a is None else a >= self.slo - 1e-12

    @property
    def budget_seconds(self) -> float:
        return (1.0 - self.slo) * self.monitored_seconds

    @property
    def budget_left_seconds(self) -> float:
        return self.budget_seconds - self.downtime_seconds

    @property
    def budget_left_ratio(self) -> float | None:
        if self.budget_seconds <= 0:
            return None
        return self.budget_left_seconds / self.budget_seconds

    @property
    def budget_left_minutes(self) -> float | None:
        """Minutes of downtime still allowed this period (negative: used beyond the budget);
        None without enough data."""
        return self.budget_left_seconds / 60.0 if self.enough_data else None

    @property
    def outage_count(self) -> int:
        return sum(1 for o in self.outages if o.downtime > 0)

    @property
    def upstream_downtime_seconds(self) -> float:
        """Downtime whose root cause was another check (the office link, a server it needs):
        unreachable from the office rather than down itself."""
        return sum(o.downtime for o in self.outages if o.outage.upstream)

    @property
    def upstream_causes(self) -> list[str]:
        return sorted({c for o in self.outages if o.downtime > 0 and o.outage.upstream
                       for c in o.outage.root_cause.split(",")
                       if c and c != self.check})

    @property
    def longest_seconds(self) -> float:
        return max((o.downtime for o in self.outages), default=0.0)

    @property
    def mttr_seconds(self) -> float | None:
        ended = [o.downtime for o in self.outages if o.outage.end is not None and o.downtime > 0]
        return sum(ended) / len(ended) if ended else None


def compute(
    check: str,
    site: str,
    slo: float,
    period: Span,
    outages: Sequence[Outage],
    maintenance: Sequence[Maintenance] = (),
    monitored_from: datetime | None = None,
    now: datetime | None = None,
    days: Sequence[Span] = (),
    *,
    min_coverage: float = 0.0,
    ignore_shorter_than: float = 0.0,
    max_outages: int | None = None,
) -> CheckAvailability:
    """Availability of one check over `period` (half-open, timezone-aware datetimes)."""
    start, end = period
    if monitored_from is not None:
        start = max(start, monitored_from)
    if now is not None:
        end = min(end, now)
    elapsed_end = max(period[0], end)
    elapsed: Span = (period[0], elapsed_end)
    if not days and not any(m.covers(check) for m in maintenance) \
            and not any(o.check == check for o in outages):
        # Nothing to subtract or count (a check never down in the period, the usual case):
        # the figures of the general path below without its interval arithmetic, which at
        # 1,000 checks was most of the status page's refresh every minute
        # (tests/unit/test_availability.py compares the two).
        # (total() of no span is the int 0, of one span its float length: kept as they are)
        return CheckAvailability(
            check=check, site=site, slo=slo,
            monitored_seconds=(end - start).total_seconds() if end > start else 0,
            downtime_seconds=0, maintenance_seconds=0, outages=[],
            expected_seconds=((elapsed_end - period[0]).total_seconds()
                              if elapsed_end > period[0] else 0.0),
            min_coverage=min_coverage, max_outages=max_outages, ignored_short=0)
    maint_elapsed = merge(clip([(m.start, m.end) for m in maintenance if m.covers(check)],
                               elapsed))
    expected = total(subtract([elapsed], maint_elapsed)) if elapsed_end > period[0] else 0.0
    window: Span = (start, end) if end > start else (start, start)
    maint = merge(clip([(m.start, m.end) for m in maintenance if m.covers(check)], window))
    monitored = subtract([window], maint)
    horizon = now or period[1]
    per_outage: list[OutageInPeriod] = []
    down_spans: list[Span] = []
    ignored = 0
    for o in sorted(outages, key=lambda o: o.start):
        if o.check != check:
            continue
        if (ignore_shorter_than > 0 and o.end is not None
                and (o.end - o.start).total_seconds() < ignore_shorter_than):
            if clip([(o.start, o.end)], window):
                ignored += 1
            continue
        span = (o.start, o.end or horizon)
        inside = clip([span], window)
        if not inside:
            continue
        counted = subtract(inside, maint)
        down_spans.extend(counted)
        per_outage.append(
            OutageInPeriod(o, total(counted), total(inside) - total(counted))
        )
    result = CheckAvailability(
        check=check,
        site=site,
        slo=slo,
        monitored_seconds=total(monitored),
        downtime_seconds=total(down_spans),
        maintenance_seconds=total(maint),
        outages=[p for p in per_outage if p.downtime > 0 or p.in_maintenance > 0],
        expected_seconds=expected,
        min_coverage=min_coverage,
        max_outages=max_outages,
        ignored_short=ignored,
    )
    expected_spans = subtract([elapsed], maint_elapsed) if elapsed_end > period[0] else []
    for day in days:
        day_mon = total(clip(monitored, day))
        day_down = total(clip(down_spans, day))
        # the same coverage rule per day: a bar over 7 minutes of data would say "57 %"
        day_expected = total(clip(expected_spans, day))
        thin = day_expected > 0 and day_mon < min_coverage * day_expected - 1e-9
        result.daily.append((day[0], None if day_mon <= 0 or thin
                             else 1.0 - day_down / day_mon))
    return result


def day_spans(period: Span) -> list[Span]:
    """Calendar days of the period in the period's own time zone."""
    start, end = period
    out: list[Span] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        nxt = (day + timedelta(days=1, hours=2)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
        out.append((max(day, start), min(nxt, end)))
        day = nxt
    return out


@dataclass(frozen=True)
class Transition:
    """One recorded state change of a check, as the history keeps it."""

    at: datetime
    check: str
    state: str  # "up", "down", "unreachable", "unknown" (agent (re)start, no result yet)
    root_cause: str = ""
    reason: str = ""


def outages_from_transitions(transitions: Iterable[Transition]) -> list[Outage]:
    """Turn state changes into outages. Only `up` ends an outage: an agent restart in the
    middle of an outage records `unknown` and then `down` again, and that is still one outage.
    An outage that began "unreachable" (cut off upstream) is one caused upstream, also when
    the check stayed down on its own after its root came back."""
    open_: dict[str, Transition] = {}
    out: list[Outage] = []
    for t in sorted(transitions, key=lambda t: t.at):
        if t.state in ("down", "unreachable"):
            open_.setdefault(t.check, t)
        elif t.state == "up" and t.check in open_:
            first = open_.pop(t.check)
            out.append(Outage(t.check, first.at, t.at, first.root_cause, first.reason,
                              unreachable=first.state == "unreachable"))
    for check, first in open_.items():
        out.append(Outage(check, first.at, None, first.root_cause, first.reason,
                          unreachable=first.state == "unreachable"))
    return sorted(out, key=lambda o: (o.start, o.check))


@dataclass(frozen=True)
class Event:
    """Something that happened to a check without an outage: a route change."""

    at: datetime
    check: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    site: str = ""


@dataclass
class SiteData:
    """Everything needed to report one site: its checks and what happened to them."""

    site: str
    checks: list[str]
    outages: list[Outage] = field(default_factory=list)
    maintenance: list[Maintenance] = field(default_factory=list)
    monitored_from: dict[str, datetime] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
