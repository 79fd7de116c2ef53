"""`pantau report` and `pantau maintenance` on a constructed outage history: exact numbers
through the real CLI, in every output format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers.agent import run_cli
from tests.helpers.report_office import WIB, make_office


@pytest.fixture
def office(tmp_path: Path) -> Path:
    return make_office(tmp_path)


def test_report_json_exact_numbers(office: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run_cli("report", "--config", str(office), "--from", "2026-10-01", "--to", "2026-11-01",
                "--format", "json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = {c["check"]: c for c in json.loads(out.read_text())["checks"]}
    up, portal = data["uplink"], data["portal"]
    # uplink: monitored from its first record (1 Sep) so the whole of October
    assert up["monitored_seconds"] == 31 * 86400
    assert up["downtime_seconds"] == 3600 + 2 * 3600  # 00:00-01:00 on the 1st, 10:00-12:00
    assert up["outages"] == 2
    assert portal["monitored_seconds"] == 16 * 86400  # from the 16th
    assert portal["downtime_seconds"] == 2 * 3600
    assert portal["outage_list"][0]["root_cause"] == "uplink"
    # 1 - 7200/1382400 = 99.479 % < 99.5 %: missed; uplink 1 - 10800/2678400 = 99.597 %: met
    assert portal["slo_met"] is False and up["slo_met"] is True


def test_report_month_is_the_calendar_month(office: Path, tmp_path: Path) -> None:
    by_days, by_month = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("report", "--config", str(office), "--from", "2026-10-01", "--to", "2026-11-01",
            "--format", "json", "--out", str(by_days))
    r = run_cli("report", "--config", str(office), "--month", "2026-10", "--format", "json",
                "--out", str(by_month))
    assert r.returncode == 0, r.stderr
    assert "2026-10-01 .. 2026-11-01" in r.stdout
    assert json.loads(by_month.read_text())["checks"] == json.loads(by_days.read_text())["checks"]
    for args in (["--month", "2026-13"], ["--month", "nov"],
                 ["--month", "2026-10", "--from", "2026-10-01"], []):
        r = run_cli("report", "--config", str(office), *args, "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_maintenance_add_excludes_from_sla(office: Path, tmp_path: Path) -> None:
    r = run_cli("maintenance", "add", "--config", str(office), "--start", "2026-10-20 09:00",
                "--end", "2026-10-20 13:00", "--reason", "ganti modem", "--check", "portal")
    assert r.returncode == 0, r.stderr
    listing = run_cli("maintenance", "list", "--config", str(office))
    assert "2026-10-20 09:00 .. 2026-10-20 13:00  portal  ganti modem" in listing.stdout
    out = tmp_path / "r.json"
    run_cli("report", "--config", str(office), "--from", "2026-10-01", "--to", "2026-11-01",
            "--format", "json", "--out", str(out))
    data = {c["check"]: c for c in json.loads(out.read_text())["checks"]}
    assert data["portal"]["downtime_seconds"] == 0
    assert data["portal"]["maintenance_seconds"] == 4 * 3600
    assert data["uplink"]["downtime_seconds"] == 3 * 3600  # maintenance was for portal only


def test_maintenance_edit_and_remove(office: Path, tmp_path: Path) -> None:
    def portal_downtime() -> float:
        out = tmp_path / "r.json"
        run_cli("report", "--config", str(office), "--month", "2026-10", "--format", "json",
                "--out", str(out))
        return {c["check"]: c for c in json.loads(out.read_text())["checks"]}["portal"][
            "downtime_seconds"]

    assert portal_downtime() == 2 * 3600
    r = run_cli("maintenance", "add", "--config", str(office), "--start", "2026-10-20 09:00",
                "--end", "2026-10-20 11:00", "--reason", "ganti modem", "--check", "portal")
    assert r.returncode == 0, r.stderr
    listing = run_cli("maintenance", "list", "--config", str(office)).stdout
    line = next(ln for ln in listing.splitlines() if "ganti modem" in ln)
    window = line.split()[0].lstrip("#")
    assert portal_downtime() == 1 * 3600  # one of the two hours was planned
    r = run_cli("maintenance", "edit", window, "--config", str(office), "--end",
                "2026-10-20 13:00", "--reason", "ganti modem dan kabel")
    assert r.returncode == 0, r.stderr
    listing = run_cli("maintenance", "list", "--config", str(office)).stdout
    assert f"#{window}" in listing and "2026-10-20 09:00 .. 2026-10-20 13:00  portal  " \
        "ganti modem dan kabel" in listing
    assert portal_downtime() == 0
    r = run_cli("maintenance", "edit", window, "--config", str(office), "--end",
                "2026-10-20 08:00")
    assert r.returncode == 2 and "after" in r.stderr
    r = run_cli("maintenance", "remove", window, "--config", str(office))
    assert r.returncode == 0, r.stderr
    assert portal_downtime() == 2 * 3600
    r = run_cli("maintenance", "remove", window, "--config", str(office))
    assert r.returncode == 2 and f"#{window}" in r.stderr and "Traceback" not in r.stderr


def test_report_bad_input_exit_2(office: Path, tmp_path: Path) -> None:
    for args in (["--from", "2026-13-01", "--to", "2026-12-01"],
                 ["--from", "2026-12-01", "--to", "2026-11-01"]):
        r = run_cli("report", "--config", str(office), *args, "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    r = run_cli("report", "--config", str(office), "--from", "2026-10-01", "--to", "2026-11-01",
                "--format", "docx", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--format" in r.stderr
    r = run_cli("maintenance", "add", "--config", str(office), "--start", "2026-11-20 09:00",
                "--end", "2026-11-20 08:00")
    assert r.returncode == 2 and "after" in r.stderr


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_report_formats(office: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"r.{fmt}"
    r = run_cli("report", "--config", str(office), "--from", "2026-10-01", "--to", "2026-11-01",
                "--format", fmt, "--lang", "id", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "uplink" in text and "portal" in text
    assert "99,479 %" in text  # portal: 1 - 7200/1382400


def test_monthly_report_written_once(office: Path) -> None:
    from agent.config import load_config
    from agent.reports.schedule import next_run, previous_month, write_monthly

    cfg = load_config(office)
    cfg.reports.monthly = True
    now = datetime(2026, 11, 1, 0, 10, tzinfo=WIB)
    assert previous_month(now) == (datetime(2026, 10, 1, tzinfo=WIB),
                                   datetime(2026, 11, 1, tzinfo=WIB))
    assert next_run(datetime(2026, 12, 31, 23, 0, tzinfo=WIB)) == datetime(
        2027, 1, 1, 0, 10, tzinfo=WIB)
    written = write_monthly(cfg, now)
    assert sorted(p.name for p in written) == ["dpmptsp-kab-contoh-2026-10.csv",
                                                "dpmptsp-kab-contoh-2026-10.html"]
    assert "99,479 %" in written[0].read_text() + written[1].read_text()
    assert write_monthly(cfg, now) == []  # not rewritten


def test_report_links_to_status_page_and_dashboard(tmp_path: Path) -> None:
    """Status page and Grafana links from the alerts: section reach every format; a report
    without them has no link column and null links."""
    office = make_office(tmp_path, "alerts:\n  status_url: http://10.20.0.5:9877/status\n"
                         "  dashboard_url: 'http://10.20.0.5:3000/d/pantau?var-site={site}"
                         "&var-check={check}'\n")
    got = {}
    for fmt in ("json", "csv", "html"):
        out = tmp_path / f"r.{fmt}"
        r = run_cli("report", "--config", str(office), "--month", "2026-10", "--format", fmt,
                    "--out", str(out))
        assert r.returncode == 0, r.stderr
        got[fmt] = out.read_text(encoding="utf-8")
    data = json.loads(got["json"])
    assert data["links"] == {
        "status_page": "http://10.20.0.5:9877/status",
        "dashboard": "http://10.20.0.5:3000/d/pantau?var-site=dpmptsp-kab-contoh"
                     "&var-check=$__all"}
    assert {c["check"]: c["dashboard_url"] for c in data["checks"]} == {
        c: f"http://10.20.0.5:3000/d/pantau?var-site=dpmptsp-kab-contoh&var-check={c}"
        for c in ("uplink", "portal")}
    header, *rows = got["csv"].splitlines()
    assert header.split(";")[-1] == "Dasbor Grafana"
    assert rows[0].split(";")[-1].endswith("var-check=" + rows[0].split(";")[1])
    assert 'href="http://10.20.0.5:9877/status"' in got["html"]
    assert "Halaman status: " in got["html"] and "Dasbor Grafana: " in got["html"]
    # reports.dashboard_url wins over the alert template
    (tmp_path / "b").mkdir()
    own = make_office(tmp_path / "b", "  dashboard_url: http://g/d/avail?s={site}\n"
                      "alerts:\n  dashboard_url: http://g/d/alert\n")
    out = tmp_path / "own.json"
    assert run_cli("report", "--config", str(own), "--month", "2026-10", "--format", "json",
                   "--out", str(out)).returncode == 0
    assert json.loads(out.read_text())["links"]["dashboard"] == \
        "http://g/d/avail?s=dpmptsp-kab-contoh"
    # without links: no column, nulls
    (tmp_path / "plain").mkdir()
    plain = make_office(tmp_path / "plain")
    out = tmp_path / "plain.csv"
    assert run_cli("report", "--config", str(plain), "--month", "2026-10", "--format", "csv",
                   "--out", str(out)).returncode == 0
    assert "Dasbor" not in out.read_text(encoding="utf-8")
    out = tmp_path / "plain.json"
    assert run_cli("report", "--config", str(plain), "--month", "2026-10", "--format", "json",
                   "--out", str(out)).returncode == 0
    plain_data = json.loads(out.read_text())
    assert plain_data["links"] == {"status_page": None, "dashboard": None}
    assert {c["dashboard_url"] for c in plain_data["checks"]} == {None}
