"""The report a kepala dinas signs, printed by real headless Chromium: A4 portrait, every
table inside the margins (from pdftotext -bbox word positions and from the pixels pdftoppm
renders), the signature block on the same page as the last table, the office logo present,
axes on the charts, and no English left in the Indonesian report."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from agent.i18n import REASONS
from agent.reports import ReportsConfig
from agent.reports.availability import Maintenance, Outage, SiteData
from agent.reports.build import Report, build_report
from agent.reports.render import render

WITA = ZoneInfo("Asia/Makassar")
A4_PT = (595.28, 841.89)
MARGIN_PT = 14 / 25.4 * 72  # the template's 14 mm side margins

REASONS_EN = [
    "no reply from 203.0.113.1 (3 echo requests lost)",
    "timeout after 10.0s while connecting",
    "status 503 not in 200-299",
    "connection refused",
    "certificate expired",
    "DNS rcode SERVFAIL",
    "timeout after 2.0s while querying 10.0.0.53:53",
]


def d(day: int, h: int = 0, m: int = 0) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=WITA)


def png_logo(path: Path, size: int = 48) -> Path:
    """A plain blue square PNG, written by hand: the test needs no imaging library."""
    raw = b"".join(b"\x00" + b"\x1d\x4e\x89" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def office_report(tmp_path: Path, lang: str = "id", extra_outages: int = 0,
                  with_maintenance: bool = True) -> Report:
    outages = [
        Outage("uplink-telkom", d(3, 9), d(3, 11, 30), "uplink-telkom", REASONS_EN[0]),
        Outage("portal-perizinan", d(3, 9, 1), d(3, 11, 31), "uplink-telkom", REASONS_EN[1]),
        Outage("portal-perizinan", d(17, 14), d(17, 14, 20), "portal-perizinan", REASONS_EN[2]),
        Outage("dns", d(30, 23, 55), d(30, 23, 58), "dns", REASONS_EN[5]),
    ]
    for i in range(extra_outages):
        start = d(5 + i % 20, 8) + timedelta(minutes=7 * i)
        outages.append(Outage("portal-perizinan", start, start + timedelta(minutes=3),
                              "portal-perizinan", REASONS_EN[3 + i % 4]))
    site = SiteData(
        "diskominfo-kab-contoh", ["uplink-telkom", "uplink-indihome", "portal-perizinan", "dns"],
        outages=outages,
        maintenance=[Maintenance(d(10, 22), d(11, 2), (), "penggantian router")]
        if with_maintenance else [],
        monitored_from={"dns": d(30, 23, 53)},  # seven minutes of data: no availability
    )
    cfg = ReportsConfig.model_validate({
        "timezone": "WITA", "language": lang, "slo": 0.995, "max_outages": 3,
        "ignore_shorter_than": 30,
        "office": {"name": "Dinas Komunikasi dan Informatika Kabupaten Contoh",
                   "address": "Jl. Jenderal Sudirman No. 10, Contoh 91111",
                   "logo": str(png_logo(tmp_path / "logo.png"))},
        "signatories": [
            {"role": "Dibuat oleh", "jabatan": "Pranata Komputer Ahli Muda",
             "nama": "Andi Pratama, S.Kom.", "nip": "198807122011011002"},
            {"role": "Mengetahui", "jabatan": "Kepala Dinas",
             "nama": "Dr. Hj. Sitti Rahmah, M.Si.", "nip": "197203151998032004"},
        ],
    })
    rep = build_report([site], (d(1), datetime(2026, 12, 1, tzinfo=WITA)), cfg,
                       now=datetime(2026, 12, 1, 8, tzinfo=WITA))
    rep.status_url = STATUS_URL
    rep.dashboard_url = DASHBOARD_URL
    return rep


STATUS_URL = "http://10.20.0.5:9877/status"
# long on purpose: the printed address must wrap inside the margins
DASHBOARD_URL = ("https://grafana.diskominfo.contoh.go.id/d/pantau-availability/ketersediaan"
                 "?orgId=1&var-site={site}&var-check={check}&from=now-30d&to=now")


def words_by_page(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    root = ElementTree.fromstring(re.sub(r'\sxmlns="[^"]+"', "", out, count=1))
    pages = []
    for page in root.iter("page"):
        assert abs(float(page.get("width", 0)) - A4_PT[0]) < 1.5
        assert abs(float(page.get("height", 0)) - A4_PT[1]) < 1.5
        pages.append([(float(w.get("xMin", 0)), float(w.get("yMin", 0)),
                       float(w.get("xMax", 0)), float(w.get("yMax", 0)), w.text or "")
                      for w in page.iter("word")])
    return pages


def page_of(pages: list[list[tuple[float, float, float, float, str]]], word: str) -> int:
    found = [i for i, ws in enumerate(pages) for w in ws if w[4] == word]
    assert found, f"{word!r} not in the PDF"
    return found[-1]


def inked_columns(pdf: Path, tmp_path: Path, page: int, dpi: int = 72) -> tuple[int, int, int]:
    """(leftmost, rightmost inked pixel column, width) of a page rendered by pdftoppm as PGM."""
    prefix = tmp_path / f"gray-{page}"
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", str(page + 1), "-l",
                    str(page + 1), str(pdf), str(prefix)], check=True, timeout=60)
    (pgm,) = tmp_path.glob(f"gray-{page}*.pgm")
    data = pgm.read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    assert m
    w, h = int(m.group(1)), int(m.group(2))
    px = data[m.end():]
    cols = [x for x in range(w) if any(px[y * w + x] < 200 for y in range(0, h, 2))]
    return cols[0], cols[-1], w


@pytest.fixture(scope="module")
def id_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    tmp = tmp_path_factory.mktemp("layout")
    report = office_report(tmp, "id")
    pdf = tmp / "laporan.pdf"
    render(report, "pdf", pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(tmp / "halaman")],
                   check=True, timeout=60)
    return pdf, report


def test_a4_portrait_and_tables_inside_the_margins(id_pdf: tuple[Path, Report],
                                                   tmp_path: Path) -> None:
    pdf, _ = id_pdf
    pages = words_by_page(pdf)
    right = A4_PT[0] - MARGIN_PT
    for i, words in enumerate(pages):
        for x0, _, x1, _, text in words:
            assert x0 >= MARGIN_PT - 1 and x1 <= right + 1, (i, text, x0, x1)
    # the summary table's last column header sits inside the right margin, and so does
    # everything inked on the page (table borders included), from the rendered pixels
    p1 = pages[0]
    mttr = [w for w in p1 if w[4] == "pemulihan"]
    assert mttr and mttr[0][2] <= right
    for page in range(len(pages)):
        left_px, right_px, width_px = inked_columns(pdf, tmp_path, page)
        assert width_px == 595 or width_px == 596
        assert left_px >= MARGIN_PT - 2 and right_px <= right + 2, (page, left_px, right_px)


def test_signatures_on_the_page_of_the_last_table(id_pdf: tuple[Path, Report]) -> None:
    pdf, _ = id_pdf
    pages = words_by_page(pdf)
    last_table = page_of(pages, "penggantian")  # the maintenance table is the last one
    assert page_of(pages, "Rahmah,") == last_table
    assert page_of(pages, "198807122011011002") == last_table
    assert page_of(pages, "Mengetahui") == last_table
    text = " ".join(w[4] for w in pages[last_table])
    assert "Kepala Dinas" in text and "NIP. 197203151998032004" in text
    assert "Dibuat oleh" in text and "Pranata Komputer Ahli Muda" in text


@pytest.mark.parametrize("extra", [0, 14, 22, 30])
def test_signatures_never_alone_however_long_the_outage_list(tmp_path: Path,
                                                             extra: int) -> None:
    report = office_report(tmp_path, "id", extra_outages=extra, with_maintenance=False)
    pdf = tmp_path / "laporan.pdf"
    render(report, "pdf", pdf)
    pages = words_by_page(pdf)
    sign = page_of(pages, "Rahmah,")
    # the last row of the outage list (the last table here) is on the signature page
    last_row = max(i for i, ws in enumerate(pages) for w in ws if w[4] == "perizinan" or
                   w[4] == "portal-perizinan")
    assert sign >= last_row
    assert any(w[4] in ("Mulai", "Durasi") for w in pages[sign]) or extra == 0 or \
        any(w[4].startswith("portal-") for w in pages[sign]), "signatures alone on a page"


def test_links_to_status_page_and_dashboard_printed(id_pdf: tuple[Path, Report]) -> None:
    """The addresses are printed (paper has no hover) and the links work in the PDF."""
    pdf, _ = id_pdf
    text = "".join(subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
                                  capture_output=True, text=True, timeout=60,
                                  check=True).stdout.split())
    assert f"Halamanstatus:{STATUS_URL}" in text
    site_link = DASHBOARD_URL.replace("{site}", "diskominfo-kab-contoh").replace(
        "{check}", "$__all")
    # the long address wraps; pdftotext drops a hyphen at a line end, so compare without
    assert f"DasborGrafana:{site_link}".replace("-", "") in text.replace("-", "")
    raw = pdf.read_bytes()
    assert STATUS_URL.encode() in raw  # link annotations (/URI), not only text
    assert site_link.encode() in raw


def test_logo_and_office_identity(id_pdf: tuple[Path, Report]) -> None:
    pdf, _ = id_pdf
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True,
                            timeout=60, check=True).stdout.splitlines()[2:]
    assert len(images) == 1 and images[0].split()[3:5] == ["48", "48"], images
    first = " ".join(w[4] for w in words_by_page(pdf)[0])
    assert "DINAS KOMUNIKASI DAN INFORMATIKA KABUPATEN CONTOH" in first
    assert "Jl. Jenderal Sudirman No. 10" in first
    assert "diskominfo-kab-contoh" not in first


def test_axes_on_daily_bars_and_timeline(id_pdf: tuple[Path, Report]) -> None:
    pdf, _ = id_pdf
    words = [w[4] for page in words_by_page(pdf) for w in page]
    assert words.count("100%") == 4 and words.count("90%") == 4  # one y axis per check
    assert words.count("29") >= 4  # day numbers under the bars
    assert words.count("Nov") >= 4 * 5  # dates under each timeline: 1, 6, 11, 16, 21, 26 Nov


def test_figures_in_the_summary(id_pdf: tuple[Path, Report], tmp_path: Path) -> None:
    _, report = id_pdf
    out = tmp_path / "laporan.html"
    render(report, "html", out)
    html = out.read_text(encoding="utf-8")
    table = html.split('id="availability-table"')[1].split("</table>")[0]
    cells = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:
        tds = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
               for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        cells[tds[0]] = tds
    # uplink: 2 h 30 min down of 30 days minus 4 h maintenance -> 99,651 %; allowance
    # 0,5 % x 2 577 600 s = 12 888 s, left 12 888 - 9 000 = 3 888 s = 1 jam 4 mnt 48 dtk
    assert cells["uplink-telkom"] == ["uplink-telkom", "100,0 %", "99,651 %", "99,50 %", "Ya",
                                      "sisa 1 jam 4 mnt", "1", "2 jam 30 mnt", "2 jam 30 mnt",
                                      "2 jam 30 mnt"]
    # portal: 2 h 30 min + 20 min = 10 200 s over 12 888 s; 2 outages within the target of 3
    assert cells["portal-perizinan"][2] == "99,604 %"
    assert cells["portal-perizinan"][5] == "sisa 44 mnt 48 dtk"
    # of its 2 h 50 min, 2 h 30 min were the office link (root cause uplink-telkom)
    assert cells["portal-perizinan"][7] == "2 jam 50 mnt termasuk 2 jam 30 mnt karena uplink-telkom"
    # dns: 7 minutes of data -> coverage 0,0 % (420 s / 2 577 600 s), availability withheld
    assert cells["dns"][1:4] == ["0,0 %", "—", "99,50 %"] and cells["dns"][5] == "—"
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "data terlalu sedikit" in text and "paling sedikit 50 % periode dipantau" in text
    # the 3-minute dns interruption is longer than 30 s: counted
    assert "Gangguan yang pulih dalam kurang dari 30 dtk tidak dihitung (0 diabaikan)" in text
    pdf_text = subprocess.run(["pdftotext", str(id_pdf[0]), "-"], capture_output=True,
                              text=True, timeout=60, check=True).stdout
    assert "99,651 %" in pdf_text and "99,604 %" in pdf_text


ENGLISH_WORDS = re.compile(
    r"\b(no reply|echo requests|timeout after|while connecting|not in|connection refused|"
    r"certificate|rcode|Availability|Outage|Service|Root cause|Details|ongoing|Start|End|"
    r"Duration|Generated|Period|Summary|minutes?|seconds?|hours?|days?|history|"
    r"Acknowledged|Coverage|left|over|CRITICAL|RESOLVED|DOWN)\b")


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_indonesian_report_has_no_english(id_pdf: tuple[Path, Report], tmp_path: Path,
                                          fmt: str) -> None:
    pdf, report = id_pdf
    if fmt == "pdf":
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              timeout=60, check=True).stdout
    else:
        out = tmp_path / "laporan.html"
        render(report, "html", out)
        html = out.read_text(encoding="utf-8")
        text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S)
    for reason in REASONS_EN:
        assert reason not in text
    for code, en in REASONS["en"].items():
        fixed = en.split("{")[0].strip()
        if len(fixed) > 6:
            assert fixed not in text, (code, fixed)
    hits = sorted({m.group(0) for m in ENGLISH_WORDS.finditer(text)})
    assert hits == [], hits
    assert "tidak ada balasan dari 203.0.113.1 (3 ping hilang)" in " ".join(text.split())


def test_english_report_is_english(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    render(office_report(tmp_path, "en"), "html", out)
    text = " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ", out.read_text(),
                           flags=re.S).split())
    assert "no reply from 203.0.113.1 (3 echo requests lost)" in text
    assert "1 h 4 min left" in text and "Coverage" in text
    assert "Sumber" not in text and "Ketersediaan" not in text
