"""The report a manager reads: HTML rendered by real headless Chromium to a PNG screenshot,
PDF opened by pdftoppm/pdftotext, CSV/JSON with Indonesian and English number formats."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.reports import ReportsConfig
from agent.reports.availability import Maintenance, Outage, SiteData
from agent.reports.build import build_report
from agent.reports.render import CHROMIUM_FLAGS, chromium, fmt_percent, render, to_csv, to_json

WITA = ZoneInfo("Asia/Makassar")


def _report(lang: str = "id"):  # type: ignore[no-untyped-def]
    def d(day: int, h: int = 0, m: int = 0) -> datetime:
        return datetime(2026, 11, day, h, m, tzinfo=WITA)

    period = (d(1), datetime(2026, 12, 1, tzinfo=WITA))
    site = SiteData(
        "mpp-kota-contoh", ["uplink-telkom", "portal-oss", "dns"],
        outages=[
            Outage("uplink-telkom", d(3, 9), d(3, 11, 30), "uplink-telkom", "100% packet loss"),
            Outage("portal-oss", d(3, 9, 1), d(3, 11, 31), "uplink-telkom", "connect timeout"),
            Outage("portal-oss", d(17, 14), d(17, 14, 20), "portal-oss", "status 503",
                   note="Server portal dimulai ulang; data aman"),
        ],
        maintenance=[Maintenance(d(10, 22), d(11, 2), (), "ganti router")],
    )
    cfg = ReportsConfig(timezone="WITA", language=lang, slo=0.995,  # type: ignore[arg-type]
                        slo_per_check={"dns": 0.999})
    return build_report([site], period, cfg, now=datetime(2026, 12, 1, 8, tzinfo=WITA))


def test_indonesian_and_english_numbers() -> None:
    assert fmt_percent(0.9995, "id") == "99,95 %"
    assert fmt_percent(0.9995, "en") == "99.95%"
    rows = list(csv.reader(io.StringIO(to_csv(_report("id"))), delimiter=";"))
    assert rows[0][:4] == ["Kantor", "Layanan", "Cakupan data", "Ketersediaan"]
    uplink = next(r for r in rows if r[1] == "uplink-telkom")
    # 2.5 h down of 30 days minus 4 h maintenance: 1 - 9000/(2592000-14400) = 99,651 %
    assert uplink[2] == "100,0 %" and uplink[3] == "99,651 %" and uplink[5] == "Ya"
    # allowance 0.5 % of 2 577 600 s = 12 888 s; 9 000 s used: 64.8 minutes left
    assert rows[0][6] == "Sisa jatah waktu henti (menit)" and uplink[6] == "64,8"
    en = list(csv.reader(io.StringIO(to_csv(_report("en")))))
    en_uplink = next(r for r in en if r[1] == "uplink-telkom")
    assert en_uplink[3] == "99.651%" and en_uplink[6] == "64.8"


def test_json_has_the_numbers() -> None:
    data = json.loads(to_json(_report()))
    portal = next(c for c in data["checks"] if c["check"] == "portal-oss")
    assert portal["outages"] == 2
    assert portal["downtime_seconds"] == 9000 + 1200
    assert portal["mttr_seconds"] == 5100
    assert data["period"]["from"] == "2026-11-01T00:00:00+08:00"


def test_incident_notes_in_csv_and_json() -> None:
    """A note written with `pantau incident note` or POST /api/v1/checks/NAME/note reaches
    the monthly report's data files: per outage in JSON, per check in CSV."""
    data = json.loads(to_json(_report()))
    portal = next(c for c in data["checks"] if c["check"] == "portal-oss")
    assert [o["note"] for o in portal["outage_list"]] == [
        None, "Server portal dimulai ulang; data aman"]
    rows = list(csv.reader(io.StringIO(to_csv(_report("id"))), delimiter=";"))
    assert rows[0][-1] == "Catatan gangguan"
    by_check = {r[1]: r[-1] for r in rows[1:]}
    assert by_check["portal-oss"] == "17 Nov 2026 14:00: Server portal dimulai ulang; data aman"
    assert by_check["uplink-telkom"] == ""
    en = list(csv.reader(io.StringIO(to_csv(_report("en")))))
    assert en[0][-1] == "Incident notes"
    assert next(r for r in en if r[1] == "portal-oss")[-1].endswith(
        ": Server portal dimulai ulang; data aman")


def test_html_screenshot_in_headless_chromium(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    render(_report("id"), "html", html)
    text = html.read_text()
    assert "Laporan Ketersediaan Layanan" in text and "99,651 %" in text
    assert "ganti router" in text and "<svg" in text
    png = tmp_path / "report.png"
    r = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}/profile",
         "--window-size=1200,1600", f"--screenshot={png}", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-500:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


@pytest.mark.parametrize("lang", ["id", "en"])
def test_pdf_opens_and_contains_the_table(tmp_path: Path, lang: str) -> None:
    pdf = tmp_path / f"report-{lang}.pdf"
    render(_report(lang), "pdf", pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert shutil.which("pdftoppm") and shutil.which("pdftotext")
    r = subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf),
                        str(tmp_path / "page")], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.glob("page*.png"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    if lang == "id":
        assert "Ketersediaan" in text and "99,651 %" in text and "portal-oss" in text
    else:
        assert "Availability" in text and "99.651%" in text and "portal-oss" in text
