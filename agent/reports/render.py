"""Rendering a report for managers: HTML with charts, PDF (through Chromium), CSV and JSON,
in Bahasa Indonesia or English. Heavy imports (jinja2, babel) happen inside functions so the
running agent does not pay for them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.reports.build import Report
from agent.reports.config import Format, Lang
from collectors.common.timefmt import format_span, resolve_zone

TEXT: dict[str, dict[str, str]] = {
    "title": {"id": "Laporan Ketersediaan Layanan", "en": "Service Availability Report"},
    "period": {"id": "Periode", "en": "Period"},
    "timezone": {"id": "Zona waktu", "en": "Time zone"},
    "generated": {"id": "Dibuat", "en": "Generated"},
    "source": {"id": "Sumber data", "en": "Data source"},
    "site": {"id": "Kantor", "en": "Site"},
    "check": {"id": "Layanan / pemeriksaan", "en": "Service / check"},
    "availability": {"id": "Ketersediaan", "en": "Availability"},
    "target": {"id": "Target SLO", "en": "SLO target"},
    "met": {"id": "Tercapai", "en": "Met"},
    "yes": {"id": "Ya", "en": "Yes"},
    "no": {"id": "Tidak", "en": "No"},
    "nodata": {"id": "Tidak ada data", "en": "No data"},
    "budget_left": {"id": "Sisa anggaran galat", "en": "Error budget left"},
    "outages": {"id": "Gangguan", "en": "Outages"},
    "downtime": {"id": "Total waktu henti", "en": "Total downtime"},
    "longest": {"id": "Gangguan terlama", "en": "Longest outage"},
    "mttr": {"id": "Rata-rata pemulihan (MTTR)", "en": "Mean time to recover (MTTR)"},
    "summary": {"id": "Ringkasan", "en": "Summary"},
    "daily": {"id": "Ketersediaan harian", "en": "Daily availability"},
    "timeline": {"id": "Linimasa gangguan", "en": "Outage timeline"},
    "outage_list": {"id": "Daftar gangguan", "en": "List of outages"},
    "start": {"id": "Mulai", "en": "Start"},
    "end": {"id": "Selesai", "en": "End"},
    "duration": {"id": "Durasi", "en": "Duration"},
    "root_cause": {"id": "Akar masalah", "en": "Root cause"},
    "reason": {"id": "Keterangan", "en": "Details"},
    "ongoing": {"id": "masih berlangsung", "en": "ongoing"},
    "maintenance": {"id": "Pemeliharaan terencana", "en": "Planned maintenance"},
    "in_maintenance": {"id": "dalam pemeliharaan", "en": "in maintenance"},
    "all_checks": {"id": "seluruh layanan", "en": "all services"},
    "none": {"id": "Tidak ada gangguan dalam periode ini.", "en": "No outages in this period."},
    "definitions": {"id": "Cara menghitung", "en": "How this is computed"},
    "def_text": {
        "id": "Ketersediaan = 1 − waktu henti ÷ waktu dipantau. Waktu dipantau dihitung sejak "
        "pemeriksaan dipasang dan tidak termasuk pemeliharaan terencana. Anggaran galat = "
        "(1 − target) × waktu dipantau. MTTR = rata-rata durasi gangguan yang telah selesai.",
        "en": "Availability = 1 − downtime ÷ monitored time. Monitored time starts when the "
        "check was configured and excludes planned maintenance. Error budget = (1 − target) × "
        "monitored time. MTTR = mean duration of outages that ended.",
    },
    "signature": {"id": "Mengetahui", "en": "Acknowledged by"},
    "legend": {
        "id": "Skala 90 %–100 %. Hijau: memenuhi target; merah: di bawah target; abu-abu: "
        "tidak dipantau. Pada linimasa, merah = gangguan, abu-abu = pemeliharaan terencana.",
        "en": "Scale 90%–100%. Green: target met; red: below target; grey: not monitored. "
        "On the timeline, red = outage, grey = planned maintenance.",
    },
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
        "source": report.source,
        "checks": [
            {
                "site": r.site, "check": r.check, "availability": r.availability,
                "slo": r.slo, "slo_met": r.slo_met,
                "error_budget_left_seconds": r.budget_left_seconds,
                "error_budget_left_ratio": r.budget_left_ratio,
                "monitored_seconds": r.monitored_seconds,
                "maintenance_seconds": r.maintenance_seconds,
                "outages": r.outage_count, "downtime_seconds": r.downtime_seconds,
                "longest_outage_seconds": r.longest_seconds, "mttr_seconds": r.mttr_seconds,
                "daily": [{"day": ts(d), "availability": a} for d, a in r.daily],
                "outage_list": [
                    {"start": ts(o.outage.start), "end": ts(o.outage.end),
                     "downtime_seconds": o.downtime, "maintenance_seconds": o.in_maintenance,
                     "root_cause": o.outage.root_cause, "reason": o.outage.reason}
                    for o in r.outages
                ],
            }
            for r in report.rows
        ],
        "maintenance": [
            {"start": ts(m.start), "end": ts(m.end), "checks": list(m.checks),
             "reason": m.reason} for m in report.maintenance
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_csv(report: Report) -> str:
    """One row per check, numbers formatted for the report's language (Excel in id_ID reads
    the comma decimal)."""
    lang = report.lang
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";" if lang == "id" else ",")
    w.writerow([t(k, lang) for k in ("site", "check", "availability", "target", "met",
                                      "budget_left", "outages", "downtime", "longest", "mttr")])
    for r in report.rows:
        met = "" if r.slo_met is None else t("yes" if r.slo_met else "no", lang)
        w.writerow([
            r.site, r.check, fmt_percent(r.availability, lang, 3), fmt_percent(r.slo, lang, 2),
            met, fmt_duration(r.budget_left_seconds, lang) if r.budget_left_seconds >= 0
            else "-" + fmt_duration(-r.budget_left_seconds, lang),
            r.outage_count, fmt_duration(r.downtime_seconds, lang),
            fmt_duration(r.longest_seconds, lang), fmt_duration(r.mttr_seconds, lang),
        ])
    return buf.getvalue()


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
            h = 0.0 if a is None else max(3.0, (a - 0.9) / 0.1 * 40)
            bars.append({"x": i * (100 / n), "w": 100 / n * 0.8, "h": h,
                         "ok": a is not None and a >= r.slo, "none": a is None,
                         "title": f"{fmt_date(day, lang, tz)}: {fmt_percent(a, lang)}"})
        segs = [{"x": x_of(o.outage.start),
                 "w": max(0.3, x_of(o.outage.end or report.generated) - x_of(o.outage.start)),
                 "title": f"{fmt_dt(o.outage.start, lang, tz)} – "
                          f"{fmt_dt(o.outage.end, lang, tz)}"} for o in r.outages]
        maint = [{"x": x_of(m.start), "w": max(0.3, x_of(m.end) - x_of(m.start))}
                 for m in report.maintenance if m.covers(r.check)]
        rows.append({"r": r, "bars": bars, "segs": segs, "maint": maint})
    tpl = env.get_template("report.html.j2")
    return tpl.render(
        report=report, rows=rows, lang=lang, tz=tz, T=lambda k: t(k, lang),
        pct=lambda v, d=2: fmt_percent(v, lang, d), dur=lambda s: fmt_duration(s, lang),
        dt=lambda v: fmt_dt(v, lang, tz), day=lambda v: fmt_date(v, lang, tz),
        period_end=report.period[1] - timedelta(seconds=1),
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
