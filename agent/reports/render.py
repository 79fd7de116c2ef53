"""Rendering a report for managers: HTML with charts, PDF (through Chromium), CSV and JSON,
in Bahasa Indonesia or English. Heavy imports (jinja2, babel) happen inside functions so the
running agent does not pay for them.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agent import __version__
from agent.i18n import event_text, reason_text
from agent.reports.availability import CheckAvailability
from agent.reports.build import Report
from agent.reports.config import Format, Lang
from collectors.common.timefmt import format_span, resolve_zone

TEXT: dict[str, dict[str, str]] = {
    "title": {"id": "Laporan Ketersediaan Layanan", "en": "Service Availability Report"},
    "period": {"id": "Periode", "en": "Period"},
    "timezone": {"id": "Zona waktu", "en": "Time zone"},
    "generated": {"id": "Dibuat", "en": "Generated"},
    "source": {"id": "Sumber data", "en": "Data source"},
    "source_history": {"id": "riwayat gangguan agen pantau", "en": "the pantau agent's outage "
                       "history"},
    "site": {"id": "Kantor", "en": "Site"},
    "check": {"id": "Layanan", "en": "Service"},
    "coverage": {"id": "Cakupan data", "en": "Coverage"},
    "availability": {"id": "Ketersediaan", "en": "Availability"},
    "target": {"id": "Target", "en": "Target"},
    "met": {"id": "Tercapai", "en": "Met"},
    "yes": {"id": "Ya", "en": "Yes"},
    "no": {"id": "Tidak", "en": "No"},
    "nodata": {"id": "Tidak ada data", "en": "No data"},
    "budget": {"id": "Jatah waktu henti", "en": "Downtime allowance"},
    "budget_minutes": {"id": "Sisa jatah waktu henti (menit)",
                       "en": "Downtime allowance left (minutes)"},
    "budget_left": {"id": "sisa {d}", "en": "{d} left"},
    "budget_over": {"id": "terlampaui {d}", "en": "{d} over"},
    "outages": {"id": "Jumlah gangguan", "en": "Outages"},
    "outage_target": {"id": "Target jumlah gangguan", "en": "Outage target"},
    "at_most": {"id": "maks. {n}", "en": "at most {n}"},
    "downtime": {"id": "Total waktu henti", "en": "Total downtime"},
    "longest": {"id": "Gangguan terlama", "en": "Longest outage"},
    "upstream": {"id": "termasuk {d} karena {causes}", "en": "incl. {d} caused by {causes}"},
    "mttr": {"id": "Rata-rata pemulihan", "en": "Mean time to recover"},
    "summary": {"id": "Ringkasan", "en": "Summary"},
    "daily": {"id": "Ketersediaan harian", "en": "Daily availability"},
    "timeline": {"id": "Linimasa gangguan", "en": "Outage timeline"},
    "route_changes": {"id": "Perubahan rute", "en": "Route changes"},
    "when": {"id": "Waktu", "en": "Time"},
    "outage_list": {"id": "Daftar gangguan", "en": "List of outages"},
    "acknowledged": {"id": "ditangani", "en": "acknowledged by"},
    "notes": {"id": "Catatan gangguan", "en": "Incident notes"},
    "start": {"id": "Mulai", "en": "Start"},
    "end": {"id": "Selesai", "en": "End"},
    "duration": {"id": "Durasi", "en": "Duration"},
    "root_cause": {"id": "Akar masalah", "en": "Root cause"},
    "itself": {"id": "layanan itu sendiri", "en": "the service itself"},
    "reason": {"id": "Keterangan", "en": "Details"},
    "ongoing": {"id": "masih berlangsung", "en": "ongoing"},
    "maintenance": {"id": "Pemeliharaan terencana", "en": "Planned maintenance"},
    "in_maintenance": {"id": "dalam pemeliharaan", "en": "in maintenance"},
    "all_checks": {"id": "seluruh layanan", "en": "all services"},
    "none": {"id": "Tidak ada gangguan dalam periode ini.", "en": "No outages in this period."},
    "low_coverage_note": {
        "id": "—: data terlalu sedikit. Ketersediaan hanya ditampilkan bila paling sedikit "
        "{min} periode dipantau; cakupan: {checks}.",
        "en": "—: too little data. Availability is shown only when at least {min} of the "
        "period was monitored; coverage: {checks}.",
    },
    "short_note": {
        "id": "Gangguan yang pulih dalam kurang dari {d} tidak dihitung ({n} diabaikan).",
        "en": "Interruptions that recovered within {d} are not counted ({n} ignored).",
    },
    "definitions": {"id": "Cara menghitung", "en": "How this is computed"},
    "def_text": {
        "id": "Ketersediaan = 1 − waktu henti ÷ waktu dipantau. Waktu dipantau dihitung sejak "
        "pemeriksaan dipasang dan tidak termasuk pemeliharaan terencana. Cakupan data = waktu "
        "dipantau ÷ periode (tanpa pemeliharaan). Jatah waktu henti = (1 − target) × waktu "
        "dipantau; sisa jatah = jatah − waktu henti. Rata-rata pemulihan = rata-rata durasi "
        "gangguan yang telah selesai.",
        "en": "Availability = 1 − downtime ÷ monitored time. Monitored time starts when the "
        "check was configured and excludes planned maintenance. Coverage = monitored time ÷ "
        "period (without maintenance). Downtime allowance = (1 − target) × monitored time; "
        "left = allowance − downtime. Mean time to recover = mean duration of outages that "
        "ended.",
    },
    "signature": {"id": "Mengetahui", "en": "Acknowledged by"},
    "nip": {"id": "NIP.", "en": "NIP"},
    "place_date": {"id": "Dibuat pada {d}", "en": "Issued on {d}"},
    "legend": {
        "id": "Skala 90 %–100 %. Hijau: memenuhi target; merah: di bawah target (nilai "
        "tertulis di atas batang); abu-abu: tidak dipantau. Pada linimasa, merah = gangguan, "
        "abu-abu = pemeliharaan terencana.",
        "en": "Scale 90%–100%. Green: target met; red: below target (value printed above the "
        "bar); grey: not monitored. On the timeline, red = outage, grey = planned maintenance.",
    },
    "date_axis": {"id": "Tanggal", "en": "Date"},
    "logo_alt": {"id": "Logo instansi", "en": "Office logo"},
    "status_page": {"id": "Halaman status", "en": "Status page"},
    "dashboard": {"id": "Dasbor Grafana", "en": "Grafana dashboard"},
}


def t(key: str, lang: Lang) -> str:
    return TEXT[key][lang]


def _locale(lang: Lang) -> str:
    return "id_ID" if lang == "id" else "en_GB"


def fmt_percent(ratio: float | None, lang: Lang, digits: int = 2) -> str:
    """99,95 % in Indonesian, 99.95% in English."""
    if ratio is None or math.isnan(ratio):
        return t("nodata", lang)
    from babel.numbers import format_decimal

    pattern = "#,##0." + "0" * digits
    num = format_decimal(ratio * 100, format=pattern, locale=_locale(lang))
    return f"{num} %" if lang == "id" else f"{num}%"


def fmt_duration(seconds: float | None, lang: Lang) -> str:
    return "–" if seconds is None else format_span(seconds, lang)


def fmt_dt(dt: datetime | None, lang: Lang, tz: ZoneInfo) -> str:
    if dt is None:
        return t("ongoing", lang)
    from babel.dates import format_datetime

    return format_datetime(dt.astimezone(tz), "d MMM y HH:mm", locale=_locale(lang))


def fmt_date(dt: datetime, lang: Lang, tz: ZoneInfo) -> str:
    from babel.dates import format_date

    return format_date(dt.astimezone(tz).date(), "d MMMM y", locale=_locale(lang))


def to_json(report: Report) -> str:
    def ts(x: datetime | None) -> str | None:
        return None if x is None else x.isoformat()

    data = {
        "period": {"from": ts(report.period[0]), "to": ts(report.period[1]),
                   "timezone": report.tz_name},
        "generated": ts(report.generated),
        "source": source_text(report),
        "links": {"status_page": report.status_url or None,
                  "dashboard": report.header_dashboard_link() or None},
        "checks": [
            {
                "site": r.site, "check": r.check, "availability": r.availability,
                "raw_availability": r.raw_availability, "coverage": r.coverage,
                "enough_data": r.enough_data, "min_coverage": r.min_coverage,
                "slo": r.slo, "slo_met": r.slo_met,
                "dashboard_url": report.dashboard_link(r.site, r.check) or None,
                "error_budget_left_seconds": r.budget_left_seconds,
                "error_budget_left_minutes": r.budget_left_minutes,
                "outage_target": r.max_outages, "outage_target_met": r.outage_target_met,
                "ignored_short_interruptions": r.ignored_short,
                "monitored_seconds": r.monitored_seconds,
                "expected_seconds": r.expected_seconds,
                "maintenance_seconds": r.maintenance_seconds,
                "outages": r.outage_count, "downtime_seconds": r.downtime_seconds,
                "upstream_downtime_seconds": r.upstream_downtime_seconds,
                "longest_outage_seconds": r.longest_seconds, "mttr_seconds": r.mttr_seconds,
                "daily": [{"day": ts(d), "availability": a} for d, a in r.daily],
                "outage_list": [
                    {"start": ts(o.outage.start), "end": ts(o.outage.end),
                     "downtime_seconds": o.downtime, "maintenance_seconds": o.in_maintenance,
                     "root_cause": o.outage.root_cause, "reason": o.outage.reason,
                     "reason_text": reason_text(o.outage.reason, report.lang),
                     "acknowledged_by": o.outage.ack_by or None,
                     "acknowledged_at": ts(o.outage.ack_at) if o.outage.ack_at else None,
                     "note": o.outage.note or None}
                    for o in r.outages
                ],
            }
            for r in report.rows
        ],
        "maintenance": [
            {"start": ts(m.start), "end": ts(m.end), "checks": list(m.checks),
             "reason": m.reason} for m in report.maintenance
        ],
        "events": [
            {"at": ts(e.at), "check": e.check, "kind": e.kind,
             "text": event_text(e.kind, e.detail, report.lang)} for e in report.events
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_csv(report: Report) -> str:
    """One row per check, numbers formatted for the report's language (Excel in id_ID reads
    the comma decimal); the allowance left is a plain number of minutes to sum and sort."""
    import csv  # here: render is imported by every agent (agent.reports), CSV written by few

    from babel.numbers import format_decimal

    lang = report.lang
    zone = resolve_zone(report.tz_name)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";" if lang == "id" else ",")
    links = bool(report.dashboard_url)  # the column only when there is something to link
    w.writerow([t(k, lang) for k in ("site", "check", "coverage", "availability", "target",
                                      "met", "budget_minutes", "outages", "downtime",
                                      "longest", "mttr", "notes")]
               + ([t("dashboard", lang)] * links))
    for r in report.rows:
        met = "" if r.slo_met is None else t("yes" if r.slo_met else "no", lang)
        left = r.budget_left_minutes
        w.writerow([
            r.site, r.check, fmt_percent(r.coverage, lang, 1), fmt_avail(r, lang, 3),
            fmt_percent(r.slo, lang, 2), met,
            "" if left is None else format_decimal(round(left, 1), format="0.0",
                                                   locale=_locale(lang)),
            r.outage_count, fmt_duration(r.downtime_seconds, lang),
            fmt_duration(r.longest_seconds, lang), fmt_duration(r.mttr_seconds, lang),
            # the incident notes of the period's outages, oldest first, with their start
            " | ".join(f"{fmt_dt(o.outage.start, lang, zone)}: {o.outage.note}"
                       for o in r.outages if o.outage.note),
            *([report.dashboard_link(r.site, r.check)] * links),
        ])
    return buf.getvalue()


def fmt_avail(r: CheckAvailability, lang: Lang, digits: int = 3) -> str:
    """The availability, or "—" when too little of the period was monitored."""
    if r.raw_availability is not None and not r.enough_data:
        return "—"
    return fmt_percent(r.availability, lang, digits)


def fmt_budget(r: CheckAvailability, lang: Lang) -> str:
    """"sisa 13 mnt 12 dtk" / "terlampaui 2 jam 17 mnt"; "—" without enough data."""
    if r.budget_left_minutes is None:
        return "—"
    left = r.budget_left_seconds
    key = "budget_left" if left >= 0 else "budget_over"
    return t(key, lang).format(d=fmt_duration(abs(left), lang))


def source_text(report: Report) -> str:
    return t("source_history", report.lang) if report.source == "history" else report.source


def _logo_uri(report: Report) -> str:
    office = report.config.office
    if office is None or office.logo is None:
        return ""
    import base64

    from agent.reports.config import LOGO_TYPES

    mime = LOGO_TYPES[office.logo.suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(office.logo.read_bytes()).decode()


def _ticks(period: tuple[datetime, datetime], tz: ZoneInfo,
           lang: Lang) -> list[tuple[float, str]]:
    """Time-axis labels at local midnights (or every 6 h for a short period), as (x %, text)."""
    start, end = period
    span = (end - start).total_seconds()
    days = span / 86400
    step_h = 6 if days <= 2 else 24
    every = 1 if days <= 10 else (2 if days <= 16 else 5)
    local = start.astimezone(tz)
    cur = local.replace(minute=0, second=0, microsecond=0)
    if step_h == 24:
        cur = cur.replace(hour=0)
    else:
        cur = cur.replace(hour=cur.hour - cur.hour % step_h)
    out: list[tuple[float, str]] = []
    n = 0
    while cur <= end:
        x = (cur - start).total_seconds() / span * 100
        if cur >= start and x < 97:  # a label at the very end would be cut off
            if step_h == 24:
                if n % every == 0:
                    out.append((x, f"{cur.day} {_month(cur, lang)}"))
                n += 1
            else:
                label = f"{cur:%H:%M}" if cur.hour else f"{cur.day} {_month(cur, lang)}"
                out.append((x, label))
        cur = (cur + timedelta(hours=step_h + 1)).replace(minute=0)
        if step_h == 24:
            cur = cur.replace(hour=0)
        else:
            cur = cur.replace(hour=cur.hour - cur.hour % step_h)
    return out


def _month(dt: datetime, lang: Lang) -> str:
    from babel.dates import format_date

    return format_date(dt.date(), "MMM", locale=_locale(lang)).rstrip(".")


def to_html(report: Report) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("agent.reports", "templates"),
                      autoescape=select_autoescape(["html"]))
    tz = resolve_zone(report.tz_name)
    lang = report.lang
    span = (report.period[1] - report.period[0]).total_seconds()

    def x_of(dt: datetime) -> float:
        return max(0.0, min(100.0, (dt - report.period[0]).total_seconds() / span * 100))

    rows = []
    for r in report.rows:
        bars = []
        n = max(1, len(r.daily))
        for i, (day, a) in enumerate(r.daily):
            # 90 %..100 % scale; a worse day still shows a short red bar
            h = 0.0 if a is None else max(3.0, (min(1.0, a) - 0.9) / 0.1 * 100)
            ok = a is not None and a >= r.slo
            bars.append({"x": i * (100 / n), "w": 100 / n * 0.8, "h": h, "ok": ok,
                         "none": a is None, "label": "" if a is None or ok
                         else fmt_percent(a, lang, 1).replace(" %", "%"),
                         "day": day.astimezone(tz).day,
                         "title": f"{fmt_date(day, lang, tz)}: {fmt_percent(a, lang)}"})
        segs = [{"x": x_of(o.outage.start),
                 "w": max(0.3, x_of(o.outage.end or report.generated) - x_of(o.outage.start)),
                 "title": f"{fmt_dt(o.outage.start, lang, tz)} – "
                          f"{fmt_dt(o.outage.end, lang, tz)}"} for o in r.outages]
        maint = [{"x": x_of(m.start), "w": max(0.3, x_of(m.end) - x_of(m.start))}
                 for m in report.maintenance if m.covers(r.check)]
        marks = [{"x": x_of(e.at), "title": f"{fmt_dt(e.at, lang, tz)}: "
                                             f"{event_text(e.kind, e.detail, lang)}"}
                 for e in report.events if e.check == r.check and e.site in ("", r.site)]
        rows.append({"r": r, "bars": bars, "segs": segs, "maint": maint, "marks": marks,
                     "day_every": 1 if n <= 16 else 2})
    cfg = report.config
    low = [r for r in report.rows if r.raw_availability is not None and not r.enough_data]
    notes = []
    if low:
        notes.append(t("low_coverage_note", lang).format(
            min=fmt_percent(cfg.min_coverage, lang, 0),
            checks=", ".join(f"{r.check} {fmt_percent(r.coverage, lang, 1)}" for r in low)))
    ignored = sum(r.ignored_short for r in report.rows)
    if cfg.ignore_shorter_than > 0:
        notes.append(t("short_note", lang).format(
            d=fmt_duration(cfg.ignore_shorter_than, lang), n=ignored))
    many_sites = len({r.site for r in report.rows}) > 1
    tpl = env.get_template("report.html.j2")
    return tpl.render(
        report=report, rows=rows, lang=lang, tz=tz, T=lambda k: t(k, lang),
        pct=lambda v, d=2: fmt_percent(v, lang, d), dur=lambda s: fmt_duration(s, lang),
        dt=lambda v: fmt_dt(v, lang, tz), day=lambda v: fmt_date(v, lang, tz),
        avail=lambda r: fmt_avail(r, lang), budget=lambda r: fmt_budget(r, lang),
        reason=lambda text: reason_text(text, lang),
        period_end=report.period[1] - timedelta(seconds=1), office=cfg.office,
        signatories=cfg.signatories, logo=_logo_uri(report), notes=notes,
        many_sites=many_sites, source=source_text(report),
        status_url=report.status_url, dashboard_url=report.header_dashboard_link(),
        ticks=_ticks(report.period, tz, lang), max_outages=cfg.max_outages,
        outage_rows=[(r, o) for r in report.rows for o in r.outages],
        events=[(e, event_text(e.kind, e.detail, lang)) for e in report.events],
        at_most=lambda n: t("at_most", lang).format(n=n),
        upstream=lambda r: t("upstream", lang).format(
            d=fmt_duration(r.upstream_downtime_seconds, lang),
            causes=", ".join(r.upstream_causes)) if r.upstream_downtime_seconds > 0 else "",
    )


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("PDF needs Chromium: apt-get install chromium")


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    f"--user-agent=pantau/{__version__}",
)


def html_to_pdf(html: str, out: Path, timeout: float = 120.0) -> None:
    """Print the same HTML to PDF with headless Chromium (no network: the page is local)."""
    with tempfile.TemporaryDirectory(prefix="pantau-report-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
               "--no-pdf-header-footer", f"--print-to-pdf={out}", src.as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            raise RuntimeError(f"Chromium could not print the PDF: {r.stderr.strip()[-300:]}")


def render(report: Report, fmt: Format, out: Path) -> None:
    """Write the report; the file appears whole or not at all (temp file + rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "pdf":
        html_to_pdf(to_html(report), tmp)
    else:
        text = {"html": to_html, "csv": to_csv, "json": to_json}[fmt](report)
        tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
