"""`pantau inventory`: office list -> file_sd JSON, clear errors and exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.agent import run_cli

OFFICES = """\
offices:
  - site: dpmptsp-kab-bogor
    address: 10.20.1.5
    labels: {region: jabar, kind: dpmptsp}
  - site: mpp-kota-depok
    address: "[fd00::5]:9100"
  - site: puskesmas-cibinong   # behind NAT: pushes with remote_write
    labels: {region: jabar}
"""


def test_file_sd_written_atomically(tmp_path: Path) -> None:
    src = tmp_path / "offices.yml"
    src.write_text(OFFICES)
    out = tmp_path / "offices.json"
    r = run_cli("inventory", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == [
        {"targets": ["10.20.1.5:9877"],
         "labels": {"kind": "dpmptsp", "region": "jabar", "site": "dpmptsp-kab-bogor"}},
        {"targets": ["[fd00::5]:9100"], "labels": {"site": "mpp-kota-depok"}},
    ]
    assert "2 offices scraped (file_sd), 1 push with remote_write" in r.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_stdout_and_plain_list(tmp_path: Path) -> None:
    src = tmp_path / "o.yml"
    src.write_text("- {site: a, address: 'h:1'}\n")
    r = run_cli("inventory", str(src))
    assert r.returncode == 0
    assert json.loads(r.stdout) == [{"targets": ["h:1"], "labels": {"site": "a"}}]


def test_bad_input_one_line_each_exit_2(tmp_path: Path) -> None:
    cases = {
        "- site: a\n  address: 'x:99999'\n":
            "offices[0].address: invalid address 'x:99999': port must be 1-65535",
        "- site: a\n  labels: {job: x}\n": "offices[0].labels: label 'job' is set by",
        "- {site: a}\n- {site: a}\n": "offices[1].site: duplicate site 'a'",
        "- {site: a, mode: scrape}\n": "offices[0].address: mode scrape needs an address",
        "- {site: a, adress: h}\n": "offices[0].adress: Extra inputs are not permitted",
        "offices: []\n": "expected a non-empty list of offices",
        "- site: [\n": "invalid YAML",
    }
    for i, (text, expected) in enumerate(cases.items()):
        src = tmp_path / f"bad{i}.yml"
        src.write_text(text)
        r = run_cli("inventory", str(src))
        assert r.returncode == 2, (text, r.stdout)
        assert "Traceback" not in r.stderr
        assert expected in r.stderr, (text, r.stderr)
    r = run_cli("inventory", str(tmp_path / "missing.yml"))
    assert r.returncode == 2 and "cannot read" in r.stderr
