"""`pantau report` and `pantau maintenance`: availability reports for managers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import ConfigOpt, fail, load, set_lang_option, tr

maintenance_app = typer.Typer(help="Planned maintenance windows (excluded from the SLA).",
                              no_args_is_help=True)


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    month: Annotated[str | None, typer.Option(
        "--month", metavar="YYYY-MM",
        help="A calendar month, e.g. 2026-11 (instead of --from/--to).")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", metavar="DATE", help="First day, e.g. 2026-11-01 (local).")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", metavar="DATE", help="Day after the last, e.g. 2026-12-01.")] = None,
    config: ConfigOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT",
                                           help="html, pdf, csv or json.")] = "html",
    lang: Annotated[str | None, typer.Option(help="id or en (default: reports.language).")]
    = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    prometheus: Annotated[str | None, typer.Option(
        "--prometheus", metavar="URL", help="Compute from this Prometheus-compatible server "
        "(Prometheus, VictoriaMetrics; all sites) instead of the local outage history.")]
    = None,
    step: Annotated[float, typer.Option(
        metavar="SECONDS", help="Query step in seconds for --prometheus (use the scrape "
        "interval).")] = 15.0,
) -> None:
    """Availability report per service and site, from the history or a Prometheus.

    Availability, SLO met, error budget, outages, downtime, MTTR and the list of outages with
    their root cause."""
    from agent.reports import parse_period
    from agent.reports.build import build
    from agent.reports.render import render
    from collectors.common.timefmt import resolve_zone

    if fmt not in ("html", "pdf", "csv", "json"):
        raise fail(tr("report_format", value=fmt))
    if lang not in (None, "id", "en"):
        raise fail(tr("report_lang", value=lang))
    if lang is not None:  # the report's language is this run's language too
        set_lang_option(lang)
    if month is not None:
        if from_ is not None or to is not None:
            raise fail(tr("month_or_range"))
        from_, to = month_bounds(month)
    elif from_ is None or to is None:
        raise fail(tr("period_needed"))
    cfg = load(config)
    rcfg = cfg.reports
    tz = resolve_zone(rcfg.timezone)
    try:
        period = parse_period(from_, to, tz)
    except ValueError as e:
        raise fail(_period_error(e, from_, to)) from None
    try:
        rep = build(cfg, period, site=site, prometheus=prometheus, step=step, lang=lang)
        render(rep, fmt, out)  # type: ignore[arg-type]
    except (RuntimeError, OSError, ValueError) as e:
        raise fail(str(e), 1) from None
    n_checks = len(rep.rows)
    typer.echo(tr("report_written", path=out, fmt=fmt, n=n_checks,
                  start=f"{period[0]:%Y-%m-%d}", end=f"{period[1]:%Y-%m-%d}",
                  tz=rcfg.timezone))


def _period_error(e: ValueError, from_: str, to: str) -> str:
    """parse_period's (English) complaint in the language of this run."""
    text = str(e)
    if text.startswith("--to must"):
        return tr("to_before_from")
    what, value = ("--from", from_) if text.startswith("--from") else ("--to", to)
    return tr("bad_date", what=what, text=value)


def month_bounds(month: str) -> tuple[str, str]:
    """"2026-11" -> ("2026-11-01", "2026-12-01"); a one-line error for anything else."""
    import re

    m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise fail(tr("bad_month", text=month))
    y, mo = int(m.group(1)), int(m.group(2))
    ny, nmo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return f"{y:04d}-{mo:02d}-01", f"{ny:04d}-{nmo:02d}-01"


@maintenance_app.command("add")
def maintenance_add(
    start: Annotated[str, typer.Option(help="Start, e.g. '2026-11-10 22:00' (local time).")],
    end: Annotated[str, typer.Option(help="End, e.g. '2026-11-11 02:00'.")],
    reason: Annotated[str, typer.Option(help="What is being done.")] = "",
    check: Annotated[list[str] | None, typer.Option(
        help="Only these checks (repeat); default: the whole site.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Record a planned maintenance window; reports exclude it from the SLA."""
    from agent.reports.history_source import add_maintenance
    from collectors.common.timefmt import resolve_zone

    cfg = load(config)
    tz = resolve_zone(cfg.reports.timezone)
    try:
        s = _parse_local(start, tz, "--start")
        e = _parse_local(end, tz, "--end")
    except ValueError as err:
        raise fail(str(err)) from None
    if e <= s:
        raise fail(tr("end_before_start"))
    unknown = [c for c in (check or []) if c not in {x.name for x in cfg.checks}]
    if unknown:
        raise fail(tr("unknown_checks", names=", ".join(unknown)))
    add_maintenance(cfg, s, e, tuple(check or ()), reason)
    typer.echo(tr("maint_recorded", start=f"{s:%Y-%m-%d %H:%M}", end=f"{e:%Y-%m-%d %H:%M}",
                  scope=", ".join(check or []) or tr("whole_site")))


@maintenance_app.command("list")
def maintenance_list(
    config: ConfigOpt = None,
) -> None:
    """List maintenance windows: from the config, and recorded ones with the id that
    `maintenance edit` and `maintenance remove` take."""
    from agent.reports import config_maintenance
    from agent.reports.history_source import history_maintenance_rows
    from collectors.common.timefmt import resolve_zone

    cfg = load(config)
    tz = resolve_zone(cfg.reports.timezone)
    shown = 0
    for m in config_maintenance(cfg.reports, tz):
        s, e = m.start.astimezone(tz), m.end.astimezone(tz)
        scope = ", ".join(m.checks) or tr("whole_site")
        typer.echo(f"{tr('from_config'):7} {s:%Y-%m-%d %H:%M} .. {e:%Y-%m-%d %H:%M}  {scope}  "
                   f"{m.reason}")
        shown += 1
    for row in history_maintenance_rows(cfg):
        s = datetime.fromtimestamp(row["start"], tz)
        e = datetime.fromtimestamp(row["end"], tz)
        scope = ", ".join(row["checks"]) or tr("whole_site")
        typer.echo(f"#{row['id']:<6} {s:%Y-%m-%d %H:%M} .. {e:%Y-%m-%d %H:%M}  {scope}  "
                   f"{row['reason']}")
        shown += 1
    if not shown:
        typer.echo(tr("maint_empty"))


@maintenance_app.command("remove")
def maintenance_remove(
    window: Annotated[int, typer.Argument(help="Window id from `pantau maintenance list`.")],
    config: ConfigOpt = None,
) -> None:
    """Remove a recorded maintenance window (reports count its time again)."""
    from agent.reports.history_source import remove_maintenance

    cfg = load(config)
    if not remove_maintenance(cfg, window):
        raise fail(tr("maint_none", id=window))
    typer.echo(tr("maint_removed", id=window))


@maintenance_app.command("edit")
def maintenance_edit(
    window: Annotated[int, typer.Argument(help="Window id from `pantau maintenance list`.")],
    start: Annotated[str | None, typer.Option(help="New start (local time).")] = None,
    end: Annotated[str | None, typer.Option(help="New end (local time).")] = None,
    reason: Annotated[str | None, typer.Option(help="New reason.")] = None,
    check: Annotated[list[str] | None, typer.Option(
        help="New scope: only these checks (repeat).")] = None,
    whole_site: Annotated[bool, typer.Option(
        "--whole-site", help="New scope: the whole site.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Change a recorded maintenance window; what is not given stays."""
    from agent.history import HistoryError
    from agent.reports.history_source import edit_maintenance
    from collectors.common.timefmt import resolve_zone

    cfg = load(config)
    tz = resolve_zone(cfg.reports.timezone)
    if check and whole_site:
        raise fail(tr("check_or_whole_site"))
    try:
        s = _parse_local(start, tz, "--start") if start else None
        e = _parse_local(end, tz, "--end") if end else None
    except ValueError as err:
        raise fail(str(err)) from None
    unknown = [c for c in (check or []) if c not in {x.name for x in cfg.checks}]
    if unknown:
        raise fail(tr("unknown_checks", names=", ".join(unknown)))
    scope = () if whole_site else (tuple(check) if check else None)
    try:
        found = edit_maintenance(cfg, window, start=s, end=e, checks=scope, reason=reason)
    except HistoryError as err:
        raise fail(str(err)) from None
    if not found:
        raise fail(tr("maint_none", id=window))
    typer.echo(tr("maint_changed", id=window))


def _parse_local(text: str, tz: Any, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(tr("bad_time", what=what, text=text, example="2026-11-10 22:00")
                         ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)
