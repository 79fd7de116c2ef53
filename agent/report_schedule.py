"""The optional monthly report: on the first day of each month (in the report time zone) the
agent writes last month's report into state_dir/reports/, so a manager finds it without asking.
Missed months (the server was off on the 1st) are written at the next start."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def month_start(dt: datetime) -> datetime:
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def previous_month(now: datetime) -> tuple[datetime, datetime]:
    end = month_start(now)
    start = month_start(end - timedelta(days=1))
    return start, end


def next_run(now: datetime) -> datetime:
    """10 minutes past midnight on the 1st of next month."""
    first_next = month_start(month_start(now) + timedelta(days=32))
    return first_next + timedelta(minutes=10)


def write_monthly(cfg: Any, now: datetime) -> list[Path]:
    """Write last month's report in each configured format, unless it already exists."""
    from agent.cli_report import build
    from agent.report import render

    start, end = previous_month(now)
    out_dir = Path(cfg.state_dir) / "reports"
    written = []
    for fmt in cfg.reports.monthly_formats:
        out = out_dir / f"{cfg.site}-{start:%Y-%m}.{fmt}"
        if out.exists():
            continue
        report = build(cfg, (start, end), now=now)
        render(report, fmt, out)
        written.append(out)
        log.info("monthly report written: %s", out)
    return written


async def monthly_loop(get_config: Any) -> None:
    """Run forever; a failure is logged and retried next hour, never fatal."""
    from agent.report import resolve_tz

    while True:
        cfg = get_config()
        tz = resolve_tz(cfg.reports.timezone)
        now = datetime.now(tz)
        if cfg.reports.monthly:
            try:
                await asyncio.to_thread(write_monthly, cfg, now)
            except Exception as e:  # never let a report stop monitoring
                log.error("monthly report failed: %s", e)
                await asyncio.sleep(3600)
                continue
        delay = (next_run(now) - now).total_seconds()
        await asyncio.sleep(min(delay, 3600.0))
