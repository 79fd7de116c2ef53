"""Availability numbers on constructed histories with exactly known answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.reports.availability import (
    Maintenance,
    Outage,
    Transition,
    compute,
    day_spans,
    merge,
    outages_from_transitions,
    subtract,
)

WIB = ZoneInfo("Asia/Jakarta")  # UTC+7, no daylight saving
WITA = ZoneInfo("Asia/Makassar")  # UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9
UTC = ZoneInfo("UTC")


def d(day: int, hour: int = 0, minute: int = 0, tz: ZoneInfo = WIB, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


NOV = (d(1), d(1, month=12))  # 30 days = 2,592,000 s
MONTH_S = 30 * 86400


def test_interval_algebra() -> None:
    a = [(d(1, 1), d(1, 3)), (d(1, 2), d(1, 4)), (d(1, 6), d(1, 7))]
    assert merge(a) == [(d(1, 1), d(1, 4)), (d(1, 6), d(1, 7))]
    assert subtract(a, [(d(1, 2), d(1, 6, 30))]) == [(d(1, 1), d(1, 2)), (d(1, 6, 30), d(1, 7))]


def test_outages_crossing_both_period_boundaries() -> None:
    outs = [
        Outage("portal", d(31, 22, month=10), d(1, 2)),  # 2h of it in November
        Outage("portal", d(30, 23), d(2, 1, month=12)),  # 1h of it in November
    ]
    r = compute("portal", "kab-a", 0.999, NOV, outs)
    assert r.monitored_seconds == MONTH_S
    assert r.downtime_seconds == 3 * 3600
    assert r.availability == pytest.approx(1 - 10800 / MONTH_S)
    assert r.outage_count == 2
    assert r.longest_seconds == 7200
    assert r.mttr_seconds == pytest.approx(5400)
    assert r.slo_met is False  # budget 2592 s, used 10800 s
    assert r.budget_left_seconds == pytest.approx(0.001 * MONTH_S - 10800)


def test_overlapping_maintenance_excluded_once() -> None:
    outs = [Outage("portal", d(10, 8), d(10, 12))]  # 4h outage
    maint = [
        Maintenance(d(10, 7), d(10, 9)),  # overlaps the first hour
        Maintenance(d(10, 8, 30), d(10, 10)),  # overlaps the first window and the outage
        Maintenance(d(20, 0), d(20, 1), checks=("dns",)),  # another check: ignored
    ]
    r = compute("portal", "kab-a", 0.99, NOV, outs, maint)
    assert r.maintenance_seconds == 3 * 3600  # 07:00-10:00 once, not 3.5h
    assert r.monitored_seconds == MONTH_S - 3 * 3600
    assert r.downtime_seconds == 2 * 3600  # 10:00-12:00
    assert r.outages[0].in_maintenance == 2 * 3600


def test_agent_restart_in_the_middle_of_an_outage_is_one_outage() -> None:
    trans = [
        Transition(d(5, 10), "uplink", "down", "uplink", "100% loss"),
        Transition(d(5, 10, 30), "uplink", "unknown"),  # agent restarted
        Transition(d(5, 10, 31), "uplink", "down", "uplink", "100% loss"),
        Transition(d(5, 11), "uplink", "up"),
        Transition(d(6, 9), "uplink", "down"),  # still open
    ]
    outs = outages_from_transitions(trans)
    assert [(o.start, o.end) for o in outs] == [(d(5, 10), d(5, 11)), (d(6, 9), None)]
    now = d(6, 9, 30)
    r = compute("uplink", "kab-a", 0.995, NOV, outs, now=now)
    assert r.monitored_seconds == (now - d(1)).total_seconds()
    assert r.downtime_seconds == 3600 + 1800
    assert r.mttr_seconds == 3600  # the open outage is not in MTTR
    assert r.outage_count == 2


def test_check_added_mid_month() -> None:
    outs = [Outage("vpn", d(20, 0), d(20, 6))]
    r = compute("vpn", "kab-a", 0.99, NOV, outs, monitored_from=d(16))
    assert r.monitored_seconds == 15 * 86400
    assert r.availability == pytest.approx(1 - 6 / (15 * 24))
    assert r.slo_met is False  # 98.33 % < 99 %


@pytest.mark.parametrize("tz", [WIB, WITA, WIT])
def test_periods_in_wib_wita_wit(tz: ZoneInfo) -> None:
    period = (d(1, tz=tz), d(1, tz=tz, month=12))
    # an outage on 30 Nov 23:00 local .. 1 Dec 01:00 local: exactly 1 h in November local time
    outs = [Outage("portal", d(30, 23, tz=tz), d(1, 1, tz=tz, month=12))]
    r = compute("portal", "kab-a", 0.999, period, outs, days=day_spans(period))
    assert r.monitored_seconds == MONTH_S  # no DST: every day is 24 h
    assert r.downtime_seconds == 3600
    assert len(r.daily) == 30
    assert r.daily[-1][1] == pytest.approx(1 - 1 / 24)
    assert all(v == 1.0 for _, v in r.daily[:-1])
    # the same outage seen from UTC falls on other calendar days; the local period decides
    utc_start = period[0].astimezone(UTC)
    assert utc_start.hour == 24 - int(tz.utcoffset(period[0]).total_seconds() // 3600)


def test_no_monitored_time() -> None:
    r = compute("x", "s", 0.99, NOV, [], monitored_from=d(1, month=12))
    assert r.availability is None and r.slo_met is None


def test_whole_site_maintenance_and_daily_bars() -> None:
    outs = [Outage("portal", d(3, 0), d(3, 12))]
    period = NOV
    r = compute("portal", "s", 0.9, period, outs,
                [Maintenance(d(3, 0), d(3, 6))], days=day_spans(period))
    day3 = r.daily[2]
    assert day3[0] == d(3)
    assert day3[1] == pytest.approx(1 - 6 / 18)
    assert r.downtime_seconds == timedelta(hours=6).total_seconds()


TWO_DAYS = (d(1), d(3))  # 172,800 s


def test_seven_minutes_of_data_in_two_days_shows_no_availability() -> None:
    # The uplink from the field report: first result 7 minutes before the end, 3 minutes down.
    outs = [Outage("uplink", d(2, 23, 55), d(2, 23, 58))]
    r = compute("uplink", "s", 0.99, TWO_DAYS, outs, monitored_from=d(2, 23, 53),
                now=d(3), min_coverage=0.9)
    assert r.monitored_seconds == 420
    assert r.expected_seconds == 172_800
    assert r.coverage == pytest.approx(420 / 172_800)  # 0.243 %
    assert r.raw_availability == pytest.approx(1 - 180 / 420)  # the "57 %" nobody should sign
    assert r.enough_data is False
    assert r.availability is None and r.slo_met is None and r.budget_left_minutes is None
    # the same data with the minimum switched off gives the raw figure
    r0 = compute("uplink", "s", 0.99, TWO_DAYS, outs, monitored_from=d(2, 23, 53), now=d(3))
    assert r0.availability == pytest.approx(1 - 180 / 420)


def test_coverage_excludes_maintenance_and_counts_the_elapsed_part_only() -> None:
    maint = [Maintenance(d(10, 0), d(10, 4))]  # before the check was added: 4 h
    r = compute("vpn", "s", 0.99, NOV, [], maint, monitored_from=d(16), min_coverage=0.5)
    assert r.expected_seconds == MONTH_S - 4 * 3600
    assert r.coverage == pytest.approx(15 * 86400 / (MONTH_S - 4 * 3600))  # 50.28 %
    assert r.enough_data and r.availability == 1.0
    # a period still running: expected time ends now
    r2 = compute("vpn", "s", 0.99, NOV, [], monitored_from=d(2), now=d(5), min_coverage=0.75)
    assert r2.expected_seconds == 4 * 86400 and r2.coverage == 0.75 and r2.enough_data
    r3 = compute("vpn", "s", 0.99, NOV, [], monitored_from=d(2, 0, 1), now=d(5),
                 min_coverage=0.75)
    assert r3.enough_data is False and r3.availability is None


def test_short_interruptions_ignored() -> None:
    s = d(5, 10)
    outs = [
        Outage("portal", s, s + timedelta(seconds=30)),  # ignored
        Outage("portal", d(6, 10), d(6, 10) + timedelta(seconds=59)),  # ignored
        Outage("portal", d(7, 10), d(7, 10) + timedelta(seconds=60)),  # counted: not shorter
        Outage("portal", d(8, 10), d(8, 10, 5)),  # counted
        Outage("portal", d(9, 10), None),  # open, 20 s so far: never filtered
    ]
    now = d(9, 10) + timedelta(seconds=20)
    r = compute("portal", "s", 0.999, NOV, outs, now=now, ignore_shorter_than=60)
    assert r.ignored_short == 2
    assert r.outage_count == 3
    assert r.downtime_seconds == 60 + 300 + 20
    assert r.longest_seconds == 300
    assert r.mttr_seconds == 180  # (60 + 300) / 2, the open one is not in MTTR
    all_counted = compute("portal", "s", 0.999, NOV, outs, now=now)
    assert all_counted.outage_count == 5 and all_counted.downtime_seconds == 30 + 59 + 380


def test_outage_count_target() -> None:
    outs = [Outage("dns", d(i, 1), d(i, 2)) for i in (3, 4, 5)]
    assert compute("dns", "s", 0.9, NOV, outs, max_outages=2).outage_target_met is False
    assert compute("dns", "s", 0.9, NOV, outs, max_outages=3).outage_target_met is True
    assert compute("dns", "s", 0.9, NOV, outs).outage_target_met is None


def test_error_budget_in_minutes() -> None:
    # 99.9 % of 30 days allows 2592 s = 43.2 min of downtime
    half_hour = [Outage("portal", d(3, 1), d(3, 1, 30))]
    r = compute("portal", "s", 0.999, NOV, half_hour)
    assert r.budget_seconds == pytest.approx(2592)
    assert r.budget_left_minutes == pytest.approx(13.2)
    three_hours = [Outage("portal", d(3, 1), d(3, 4))]
    assert compute("portal", "s", 0.999, NOV, three_hours).budget_left_minutes == \
        pytest.approx(-136.8)  # used 136.8 min beyond the budget


def test_daily_bars_follow_the_coverage_rule() -> None:
    outs = [Outage("dns", d(30, 23, 55), d(30, 23, 58))]
    r = compute("dns", "s", 0.99, NOV, outs, monitored_from=d(30, 23, 53),
                days=day_spans(NOV), min_coverage=0.5)
    assert r.daily[-1] == (d(30), None)  # 7 minutes of data on the day: no bar value
    r2 = compute("dns", "s", 0.99, NOV, outs, monitored_from=d(30, 11, 0),
                 days=day_spans(NOV), min_coverage=0.5)
    assert r2.daily[-1][1] == pytest.approx(1 - 180 / (13 * 3600))  # 13 h of 24: shown


def test_upstream_downtime_counted_apart() -> None:
    outs = [
        Outage("portal", d(3, 9), d(3, 11, 30), "uplink-telkom"),  # office link cut: 2.5 h
        Outage("portal", d(17, 14), d(17, 14, 20), "portal"),  # the portal itself: 20 min
        Outage("portal", d(20, 1), d(20, 1, 10), "uplink-a,uplink-b"),  # both uplinks: 10 min
    ]
    r = compute("portal", "s", 0.99, NOV, outs)
    assert r.downtime_seconds == 9000 + 1200 + 600
    assert r.upstream_downtime_seconds == 9000 + 600
    assert r.upstream_causes == ["uplink-a", "uplink-b", "uplink-telkom"]


def test_a_check_never_down_gets_the_general_paths_figures() -> None:
    """compute() answers a check with no outage and no maintenance of its own without the
    interval arithmetic; on random periods, clocks and first-seen times, its figures are the
    general path's to the type (0 is not 0.0). An outage of the check after the period sends
    the same inputs down the general path without changing what it counts."""
    import random

    rng = random.Random(16)
    for _ in range(400):
        start = d(1) + timedelta(seconds=rng.randint(-86400, 86400))
        period = (start, start + timedelta(days=rng.choice((1, 7, 30))))
        now = (None if rng.random() < 0.2
               else start + timedelta(seconds=rng.randint(-3 * 86400, 40 * 86400)))
        first = (None if rng.random() < 0.3
                 else start + timedelta(seconds=rng.randint(-86400, 35 * 86400)))
        others = [Outage("lain", start + timedelta(hours=h), start + timedelta(hours=h + 1))
                  for h in range(rng.randint(0, 3))]
        maint = [Maintenance(start + timedelta(hours=2), start + timedelta(hours=5), ("lain",))
                 for _ in range(rng.randint(0, 1))]
        kw = {"min_coverage": rng.choice((0.0, 0.5, 0.9)),
              "ignore_shorter_than": rng.choice((0.0, 120.0)),
              "max_outages": rng.choice((None, 0, 3))}
        fast = compute("portal", "kantor", 0.995, period, others, maint, first, now, **kw)
        later = Outage("portal", period[1] + timedelta(days=400), None)
        full = compute("portal", "kantor", 0.995, period, [*others, later], maint, first, now,
                       **kw)
        assert repr(fast) == repr(full)
        assert (fast.availability, fast.coverage, fast.slo_met, fast.budget_left_minutes) \
            == (full.availability, full.coverage, full.slo_met, full.budget_left_minutes)
