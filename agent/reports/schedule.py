"""The optional monthly report: on the first day of each month (in the report time zone) the
agent writes last month's report into state_dir/reports/ and, with `reports.monthly_email`,
mails it to the manager, so nobody has to ask. Missed months (the server was off on the 1st)
are written at the next start; a mail the server did not accept is retried every hour, and a
marker file next to the report makes sure it is sent once, also across restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from exporters.notify import EmailReceiver

if TYPE_CHECKING:
    from email.message import EmailMessage

    from agent.config import AgentConfig

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


def report_files(cfg: AgentConfig, now: datetime) -> list[Path]:
    """Where last month's report goes, one file per configured format."""
    start, _ = previous_month(now)
    out_dir = Path(cfg.state_dir) / "reports"
    return [out_dir / f"{cfg.site}-{start:%Y-%m}.{fmt}" for fmt in cfg.reports.monthly_formats]


def write_monthly(cfg: AgentConfig, now: datetime) -> list[Path]:
    """Write last month's report in each configured format, unless it already exists."""
    from agent.reports.build import build
    from agent.reports.render import render

    start, end = previous_month(now)
    written = []
    report = None
    for out in report_files(cfg, now):
        if out.exists():
            continue
        report = report or build(cfg, (start, end), now=now)
        render(report, out.suffix[1:], out)  # type: ignore[arg-type]
        written.append(out)
        log.info("monthly report written: %s", out)
    return written


def _mailed_marker(cfg: AgentConfig, now: datetime) -> Path:
    start, _ = previous_month(now)
    return (Path(cfg.state_dir) / "reports"
            / f".{cfg.site}-{start:%Y-%m}.mailed-{cfg.reports.monthly_email}")


def monthly_message(cfg: AgentConfig, now: datetime) -> EmailMessage:
    """Subject and a short summary in the report language, the report files attached; the
    Message-ID is derived from site and month, so a resent report is recognisably the same."""
    # email (~0.5 MiB) only in the agent that mails a report, once a month
    from email.message import EmailMessage
    from email.utils import formatdate

    from agent.reports.build import build
    from agent.reports.render import fmt_avail, fmt_percent, t

    start, end = previous_month(now)
    report = build(cfg, (start, end), now=now)
    lang = report.lang
    receiver = _mail_receiver(cfg)
    lines = [f"{t('title', lang)} — {cfg.site}", f"{t('period', lang)}: {start:%Y-%m} "
             f"({cfg.reports.timezone})", ""]
    for row in report.rows:
        met = {True: t("yes", lang), False: t("no", lang), None: t("nodata", lang)}[row.slo_met]
        lines.append(f"- {row.check}: {fmt_avail(row, lang, 3)} "
                     f"({t('target', lang)} {fmt_percent(row.slo, lang, 3)}; "
                     f"{t('met', lang)}: {met})")
    lines += ["", "pantau"]
    msg = EmailMessage()
    msg["Subject"] = f"{t('title', lang)} {cfg.site} {start:%Y-%m}"
    msg["From"] = receiver.from_
    msg["To"] = ", ".join(receiver.to)
    msg["Date"] = formatdate(now.timestamp(), localtime=False)
    msg["Message-ID"] = f"<report-{start:%Y-%m}@pantau.{cfg.site}>"
    msg.set_content("\n".join(lines) + "\n")
    for path in report_files(cfg, now):
        maintype, subtype = _MIME[path.suffix[1:]]
        if maintype == "text":  # with its charset, so mail readers show "—" and "Rp" right
            msg.add_attachment(path.read_text(encoding="utf-8"), subtype=subtype,
                               filename=path.name)
        else:
            msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                               filename=path.name)
    return msg


def _mail_receiver(cfg: AgentConfig) -> EmailReceiver:
    """The e-mail receiver reports.monthly_email names (the config check guarantees one)."""
    for r in cfg.alerts.receivers:
        if r.name == cfg.reports.monthly_email and isinstance(r, EmailReceiver):
            return r
    raise ValueError(f"reports.monthly_email: no e-mail receiver {cfg.reports.monthly_email!r}")


_MIME = {"html": ("text", "html"), "csv": ("text", "csv"), "json": ("application", "json"),
         "pdf": ("application", "pdf")}


async def mail_monthly(cfg: AgentConfig, now: datetime) -> bool:
    """Mail last month's report once; True when sent now. DeliveryError when the server did
    not take it (the caller retries later; the marker is only written after acceptance)."""
    from exporters.notify import EmailNotifier

    if cfg.reports.monthly_email is None:
        return False
    marker = _mailed_marker(cfg, now)
    if marker.exists():
        return False
    msg = await asyncio.to_thread(monthly_message, cfg, now)
    receiver = _mail_receiver(cfg)
    await EmailNotifier(receiver).send_message(msg, receiver.timeout)
    marker.write_text(f"{msg['Message-ID']} accepted by {receiver.smarthost} "
                      f"for {msg['To']}\n", encoding="utf-8")
    log.info("monthly report mailed to %s via %s", msg["To"], receiver.name)
    return True


async def monthly_loop(get_config: Callable[[], AgentConfig]) -> None:
    """Run forever; a failure is logged and retried next hour, never fatal."""
    from collectors.common.timefmt import resolve_zone

    while True:
        cfg = get_config()
        tz = resolve_zone(cfg.reports.timezone)
        now = datetime.now(tz)
        if cfg.reports.monthly:
            try:
                await asyncio.to_thread(write_monthly, cfg, now)
                await mail_monthly(cfg, now)
            except Exception as e:  # never let a report stop monitoring
                log.error("monthly report failed: %s", e)
                await asyncio.sleep(3600)
                continue
        delay = (next_run(now) - now).total_seconds()
        await asyncio.sleep(min(delay, 3600.0))
