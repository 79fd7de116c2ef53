"""The public status page for citizens: served at /status by a running agent and exported as
static files by `pantau status-page export`. The files are scanned for anything internal
(addresses, targets, check names, technical reasons), then opened from file:// in headless
Chromium, once with every request recorded and the browser offline, once inside a network
namespace without any network (`unshare -n`)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.agent import free_port, run_agent, run_cli
from tests.helpers.browser import FLAGS, Browser, chromium_path
from tests.helpers.listener import TcpListener
from tests.helpers.waiting import wait_until

IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
PUBLIC = {"portal-oss": "Layanan Perizinan Online", "website": "Website Pemkab"}


def png(path: Path, size: int = 16) -> Path:
    raw = b"".join(b"\x00" + bytes((0x1a, 0x7f, 0x37)) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", size, size, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b""))
    return path


def office(ls: dict[str, TcpListener], tmp: Path, show_reason: bool = False) -> dict[str, Any]:
    check = {"type": "tcp", "interval": "1s", "timeout": "500ms"}
    soon = time.time() + 2 * 86400
    return {
        "site": "dpmptsp-kab-contoh", "host": {"interval": "2s", "timeout": "1s"},
        "state_dir": str(tmp / "state"),
        "alerts": {"damping": {"failures": 1, "successes": 1}, "settle": "1s"},
        "reports": {"maintenance": [
            {"start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(soon)),
             "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(soon + 7200)),
             "checks": ["portal-oss"], "reason": "ganti router 10.20.30.1 di rak server"}]},
        "status_page": {
            "public": True, "office": "DPMPTSP Kabupaten Contoh", "logo": str(png(tmp / "l.png")),
            "export_dir": str(tmp / "scheduled"), "export_interval": "1s",
            "services": [
                {"check": "portal-oss", "name": PUBLIC["portal-oss"],
                 "description": "Pengajuan izin usaha secara daring", "show_reason": show_reason},
                {"check": "website", "name": PUBLIC["website"]}]},
        "checks": [
            {**check, "name": "gateway", "target": ls["gateway"].target},
            {**check, "name": "portal-oss", "target": ls["portal"].target,
             "depends_on": ["gateway"]},
            {**check, "name": "website", "target": ls["website"].target},
            {**check, "name": "internal-db", "target": f"127.0.0.1:{free_port()}"},
        ],
    }


def leaks(text: str, cfg: dict[str, Any]) -> list[str]:
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)  # the logo
    found = [m.group(0) for m in IPV4.finditer(text)]
    # technical reasons in both languages (the page shows them through agent/i18n.py)
    for word in ("::1", "localhost", "refused", "connection", "ditolak", "koneksi",
                 "ganti router", "10.20.30.1",
                 "dpmptsp-kab-contoh", "gateway", "internal-db", "portal-oss", "tcp"):
        if word in text:
            found.append(word)
    for c in cfg["checks"]:
        if c["target"] in text:
            found.append(c["target"])
    return found


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    """Run the office for a while with one outage of the portal; leave the history behind."""
    ls = {n: TcpListener().start() for n in ("gateway", "portal", "website")}
    cfg = office(ls, tmp_path)
    try:
        with run_agent(cfg, tmp_path / "agent") as agent:
            def up() -> bool:
                return b'"state":"up"' in agent.get("/api/v1/checks/portal-oss")[1]

            wait_until(up, 15, "portal up")
            ls["portal"].stop()
            wait_until(lambda: b'"state":"down"' in agent.get(
                "/api/v1/checks/portal-oss")[1], 10, "portal down")
            status, body = agent.get("/status")
            assert status == 200
            live = body.decode()
            assert "Sedang terganggu" in live
            # the agent's own export on its schedule follows the live state too
            index = tmp_path / "scheduled" / "index.html"
            wait_until(lambda: index.exists() and "Sedang terganggu" in index.read_text(),
                       10, "scheduled export shows the outage")
            ls["portal"].start()
            wait_until(up, 10, "portal up again")
            status, body = agent.get("/status?lang=en")
            assert status == 200 and 'lang="en"' in body.decode()
        return {"config": cfg, "served": [live, body.decode()], "listeners": ls}
    finally:
        for listener in ls.values():
            listener.stop()


def test_served_and_exported_pages_hold_nothing_internal(
        tmp_path: Path, history: dict[str, Any]) -> None:
    cfg = history["config"]
    scheduled = [p.read_text(encoding="utf-8") for p in (tmp_path / "scheduled").iterdir()]
    assert len(scheduled) == 3
    for page in [*history["served"], *scheduled]:
        assert leaks(page, cfg) == []
        assert PUBLIC["portal-oss"] in page and "DPMPTSP Kabupaten Contoh" in page
    out = tmp_path / "site"
    config_path = tmp_path / "pantau-export.yml"
    config_path.write_text(yaml.safe_dump(cfg))
    r = run_cli("status-page", "export", str(out), "-c", str(config_path))
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["en.html", "index.html", "status.json"]
    for f in out.iterdir():
        text = f.read_text(encoding="utf-8")
        assert leaks(text, cfg) == [], f.name
    index = (out / "index.html").read_text(encoding="utf-8")
    assert len(index.encode()) < 100_000
    assert "Gangguan layanan" in index  # the past outage, in plain words
    assert "Pemeliharaan terjadwal" in index  # upcoming, without its technical reason
    assert "data:image/png;base64," in index
    assert not re.search(r"""(src|href)=["'](https?:)?//""", index)

    # the scan can fail: a service that publishes its reason shows it
    cfg2 = office(history["listeners"], tmp_path, show_reason=True)
    cfg2["state_dir"] = cfg["state_dir"]
    config_path.write_text(yaml.safe_dump(cfg2))
    r = run_cli("status-page", "export", str(tmp_path / "site2"), "-c", str(config_path))
    assert r.returncode == 0, r.stderr
    # in the page's language: Indonesian words on index.html, the collector's on en.html
    assert "ditolak" in leaks((tmp_path / "site2" / "index.html").read_text(), cfg2)
    assert "refused" in leaks((tmp_path / "site2" / "en.html").read_text(), cfg2)

    # the office writes its own words about it; a check without an outage has nothing to note
    note = "Gangguan jaringan penyedia internet, sudah pulih"
    r = run_cli("incident", "note", "portal-oss", note, "-c", str(config_path))
    assert r.returncode == 0 and "note recorded" in r.stdout, r.stderr
    r = run_cli("incident", "note", "website", "x", "-c", str(config_path))
    assert r.returncode == 2 and "no outage of 'website'" in r.stderr
    r = run_cli("incident", "note", "nope", "x", "-c", str(config_path))
    assert r.returncode == 2 and "unknown check" in r.stderr
    config_path.write_text(yaml.safe_dump(cfg))
    assert run_cli("status-page", "export", str(out), "-c", str(config_path)).returncode == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"{PUBLIC['portal-oss']}</b> \u2014 {note}" in index
    assert "Gangguan layanan" not in index
    # and in the availability report beside the technical reason
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    report = tmp_path / "laporan.html"
    r = run_cli("report", "--from", str(today), "--to", str(today + timedelta(days=1)),
                "-f", "html", "-o", str(report), "-c", str(config_path))
    assert r.returncode == 0, r.stderr
    # the id report words the reason in Indonesian, the note follows it as written
    assert f"koneksi ditolak · {note}" in report.read_text(encoding="utf-8")
    # the report's data files carry it too: per outage in JSON, per check in CSV
    for fmt in ("json", "csv"):
        r = run_cli("report", "--from", str(today), "--to", str(today + timedelta(days=1)),
                    "-f", fmt, "-o", str(tmp_path / f"laporan.{fmt}"), "-c", str(config_path))
        assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "laporan.json").read_text(encoding="utf-8"))
    portal = next(c for c in data["checks"] if c["check"] == "portal-oss")
    assert [o["note"] for o in portal["outage_list"]][-1] == note
    rows = list(csv.reader(io.StringIO((tmp_path / "laporan.csv").read_text(
        encoding="utf-8")), delimiter=";"))
    assert rows[0][-1] == "Catatan gangguan"
    assert next(r for r in rows if r[1] == "portal-oss")[-1].endswith(f": {note}")


def test_export_refuses_without_opt_in(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump({"site": "x", "state_dir": str(tmp_path / "s")}))
    r = run_cli("status-page", "export", str(tmp_path / "out"), "-c", str(path))
    assert r.returncode == 2 and "status_page.public" in r.stderr
    assert not (tmp_path / "out").exists()


def test_exported_page_renders_from_file_without_network(
        tmp_path: Path, history: dict[str, Any]) -> None:
    cfg = history["config"]
    config_path = tmp_path / "pantau-export.yml"
    config_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "site"
    assert run_cli("status-page", "export", str(out), "-c", str(config_path)).returncode == 0
    url = (out / "index.html").as_uri()
    with Browser(tmp_path) as b:
        b.call("Network.emulateNetworkConditions", offline=True, latency=0,
               downloadThroughput=-1, uploadThroughput=-1)
        b.navigate(url)
        b.pump(0.5)
        assert b.requests and all(u.startswith(("file://", "data:")) for u in b.requests), \
            b.requests
        assert b.js("document.documentElement.lang") == "id"
        assert b.js("document.querySelector('h1').innerText") == \
            "Status Layanan \u2014 DPMPTSP Kabupaten Contoh"
        services = b.js("[...document.querySelectorAll('section.svc')].map(s => [s.querySelector("
                        "'.name').innerText, s.querySelector('.st').innerText, s.querySelectorAll("
                        "'svg.bars rect').length])")
        assert services == [[PUBLIC["portal-oss"], "Beroperasi normal", 90],
                            [PUBLIC["website"], "Beroperasi normal", 90]]
        assert b.js("document.querySelector('header img').naturalWidth") == 16
        assert "Gangguan layanan" in b.js("document.body.innerText")
        b.screenshot(tmp_path / "public-id.png", full_page=True)
        b.navigate((out / "en.html").as_uri())
        assert b.js("document.documentElement.lang") == "en"
        assert "Operational" in b.js("document.body.innerText")
        b.viewport(390, 844, mobile=True)
        b.navigate(url)
        assert b.js("document.documentElement.scrollWidth <= "
                    "document.documentElement.clientWidth")
        b.screenshot(tmp_path / "public-phone.png", full_page=True)
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    # and in a network namespace of its own, where no request could go anywhere
    flags = [f for f in FLAGS if not f.startswith("--remote-debugging")]
    dom = subprocess.run(["unshare", "-n", chromium_path(), *flags,
                          f"--user-data-dir={tmp_path / 'netless-profile'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert PUBLIC["portal-oss"] in dom.stdout and PUBLIC["website"] in dom.stdout
    assert dom.stdout.count("<rect") == 180
