"""The `pantau` commands' messages for people in one language at a time: every command run
through the real CLI in id and in en, its output scanned for the other language (the fixed
parts of every message of agent/i18n.py CLI, and common words), as the report's English scan
does. Also which switch decides the language."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from agent.i18n import CLI
from tests.helpers.agent import run_cli
from tests.helpers.report_office import make_office

# A neutral environment: the locale says nothing, PANTAU_LANG unset.
NEUTRAL = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "PANTAU_LANG": ""}

ENGLISH = re.compile(
    r"\b(error|unknown|recorded|removed|changed|wrote|checks?|whole site|maintenance|window|"
    r"time|reason|root cause|since|state|UP|DOWN|UNKNOWN|answered|must|not|give|note|outage|"
    r"began|receiver|known|none|between|cannot|links?|absolute|pass|set|kind|tries|change)\b")
INDONESIAN = re.compile(
    r"\b(kesalahan|pemeriksaan|tidak|dikenal|dicatat|dihapus|diubah|jadwal|pemeliharaan|"
    r"seluruh|kantor|waktu|keterangan|akar|masalah|sejak|keadaan|GANGGUAN|NORMAL|menjawab|"
    r"harus|bukan|berikan|catatan|gangguan|ditulis|penerima|belum|dan|atau|jangan|keduanya|"
    r"antara|tautan|misalnya|perubahan|jenis|coba|ada)\b")


def _fixed_parts(text: str) -> list[str]:
    return [lit.strip() for lit, _, _, _ in string.Formatter().parse(text) if lit.strip()]


def _other_language_fragments(lang: str) -> set[str]:
    """The fixed words of every message in the other language that this one does not share."""
    other = "en" if lang == "id" else "id"
    mine = {p for text in CLI[lang].values() for p in _fixed_parts(text)}
    return {p for text in CLI[other].values() for p in _fixed_parts(text)
            if len(p) >= 6 and p not in mine and not p.startswith("--")}


def _scannable(text: str) -> str:
    """Output without what is the same in every language: options and their values,
    `commands`, quoted input, file paths, and mtr's column names that the ISP reads."""
    text = re.sub(r"`[^`]*`|--[\w-]+|'[^']*'|\S*/\S*", " ", text)  # options, names, paths
    text = text.replace("debug, info, warning, error", " ")  # --log-level's values
    text = re.sub(r"^(Start:|HOST:).*$", " ", text, flags=re.M)
    return text


@pytest.fixture
def office(tmp_path: Path) -> Path:
    return make_office(tmp_path)


def run_all(config: Path, tmp_path: Path, lang: str) -> str:
    """Every command meant for people, successes and mistakes; their stdout + stderr."""
    c = ["--config", str(config)]
    out = tmp_path / f"r-{lang}.json"
    offices = tmp_path / "kantor.yml"
    offices.write_text("- {site: kab-a, address: '10.0.0.1:9877'}\n- {site: kab-b}\n")
    runs = [
        (0, ["status", *c]),
        (0, ["alerts", "history", *c]),
        (0, ["alerts", "history", "--notifications", *c]),
        (0, ["maintenance", "list", *c]),
        (0, ["maintenance", "add", *c, "--start", "2026-11-10 22:00", "--end",
             "2026-11-11 02:00", "--reason", "ganti modem"]),
        (0, ["maintenance", "list", *c]),
        (0, ["maintenance", "edit", "1", *c, "--reason", "ganti router"]),
        (0, ["maintenance", "remove", "1", *c]),
        (2, ["maintenance", "remove", "1", *c]),
        (2, ["maintenance", "add", *c, "--start", "2026-11-11 02:00", "--end",
             "2026-11-10 22:00"]),
        (2, ["maintenance", "add", *c, "--start", "2026-11-10 22:00", "--end",
             "2026-11-11 02:00", "--check", "nope"]),
        (2, ["maintenance", "add", *c, "--start", "kemarin", "--end", "2026-11-11 02:00"]),
        (2, ["maintenance", "edit", "1", *c, "--check", "portal", "--whole-site"]),
        (0, ["incident", "note", "portal", "Gangguan jaringan ISP", "--at", "2026-10-20 11:00",
             *c]),
        (2, ["incident", "note", "nope", "x", *c]),
        (2, ["incident", "note", "portal", " ", *c]),
        (2, ["incident", "note", "portal", "x", "--at", "besok", *c]),
        (2, ["incident", "note", "portal", "x", "--at", "2020-01-01 00:00", *c]),
        (0, ["report", *c, "--month", "2026-10", "--format", "json", "--out", str(out)]),
        (2, ["report", *c, "--month", "2026-13", "--out", str(out)]),
        (2, ["report", *c, "--month", "2026-10", "--from", "2026-10-01", "--out", str(out)]),
        (2, ["report", *c, "--out", str(out)]),
        (2, ["report", *c, "--month", "2026-10", "--format", "docx", "--out", str(out)]),
        (2, ["report", *c, "--from", "2026-10-05", "--to", "2026-10-01", "--out", str(out)]),
        (2, ["report", *c, "--from", "oktober", "--to", "2026-10-01", "--out", str(out)]),
        (2, ["alerts", "test", "nope", *c]),
        (2, ["rules", *c]),
        (2, ["rules", *c, "--runbook-base-url", "wiki/pantau"]),
        (0, ["rules", *c, "--runbook-base-url", "https://wiki.contoh.go.id/pantau",
             "--out", str(tmp_path / f"rules-{lang}.yml")]),
        (0, ["path", "127.0.0.1", "--report", "--count", "2", "--interval", "200ms"]),
        (0, ["check-config", str(config)]),
        (0, ["backup", str(tmp_path / f"cadangan-{lang}.tar.gz"), *c]),
        (2, ["restore", str(tmp_path / "x9.tar.gz")]),
        (2, ["run", *c, "--log-level", "x9"]),
        (2, ["snmp", "test", "nope", *c]),
        (2, ["probe", "nosuch", "127.0.0.1"]),
        (2, ["status-page", "export", str(tmp_path / f"publik-{lang}"), *c]),
        (2, ["playbook", "run", "restart-service", "--param", "x9", *c]),
        (0, ["inventory", str(offices), "--out", str(tmp_path / f"sd-{lang}.json")]),
    ]
    texts = []
    for code, args in runs:
        r = run_cli("--lang", lang, *args, env=NEUTRAL)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, (args, r.stderr)
        if code == 2:
            assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        texts.append(r.stdout + r.stderr)
    return "\n".join(texts)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_cli_messages_in_one_language(office: Path, tmp_path: Path, lang: str) -> None:
    text = run_all(office, tmp_path, lang)
    scan = _scannable(text)
    leaked = sorted(f for f in _other_language_fragments(lang) if f in scan)
    assert leaked == [], leaked
    words = sorted({m.group(0) for m in (ENGLISH if lang == "id" else INDONESIAN)
                    .finditer(scan)})
    assert words == [], (words, text)
    # and the language itself is there: messages, states, the path report's last line
    if lang == "id":
        for expected in ("pantau: kesalahan: pemeriksaan tidak dikenal: nope",
                         "jadwal pemeliharaan #1 dihapus", "NORMAL",
                         "catatan dicatat untuk gangguan portal yang mulai 20 Okt 2026",
                         "pantau: 127.0.0.1 menjawab", "ditulis (json, 2 pemeriksaan",
                         "OK (kantor 'dpmptsp-kab-contoh', 2 pemeriksaan",
                         "perangkat 'nope' tidak dikenal (yang terkonfigurasi: tidak ada)",
                         "jenis pemeriksaan 'nosuch' tidak dikenal", "halaman status publik mati",
                         "--param 'x9': tulis NAMA=NILAI",
                         "1 kantor di-scrape (file_sd), 1 mengirim lewat remote_write"):
            assert expected in text, expected
    else:
        for expected in ("pantau: error: unknown check(s): nope",
                         "maintenance window #1 removed", "UP",
                         "note recorded for the outage of portal that began 20 Oct 2026",
                         "pantau: 127.0.0.1 answered", "(json, 2 checks",
                         "OK (site 'dpmptsp-kab-contoh', 2 checks",
                         "unknown device 'nope' (configured: none)",
                         "unknown check type 'nosuch'", "the public status page is off",
                         "--param 'x9': use NAME=VALUE",
                         "1 offices scraped (file_sd), 1 push with remote_write"):
            assert expected in text, expected


def _list(config: Path, **env: str) -> str:
    r = run_cli("maintenance", "list", "--config", str(config), env={**NEUTRAL, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_language_switch_order(tmp_path: Path) -> None:
    """--lang, then PANTAU_LANG, then the locale, then alerts.language as the config writes
    it, then English. The config's default language (id) does not count."""
    plain = make_office(tmp_path)
    (tmp_path / "id").mkdir()
    chosen = make_office(tmp_path / "id", "alerts:\n  language: id\n")
    assert _list(plain).strip() == "no maintenance windows"  # nothing chose: English
    assert _list(chosen).strip() == "belum ada jadwal pemeliharaan"  # the office chose id
    assert _list(plain, LANG="id_ID.UTF-8").strip() == "belum ada jadwal pemeliharaan"
    assert _list(chosen, LANG="en_US.UTF-8").strip() == "no maintenance windows"
    assert _list(chosen, LC_ALL="en_GB.UTF-8", LANG="id_ID.UTF-8").strip() == \
        "no maintenance windows"
    assert _list(plain, PANTAU_LANG="id", LANG="en_US.UTF-8").strip() == \
        "belum ada jadwal pemeliharaan"
    r = run_cli("--lang", "en", "maintenance", "list", "--config", str(chosen),
                env={**NEUTRAL, "PANTAU_LANG": "id"})
    assert r.stdout.strip() == "no maintenance windows"
    r = run_cli("--lang", "jv", "maintenance", "list", "--config", str(plain), env=NEUTRAL)
    assert r.returncode == 2 and r.stderr.strip() == \
        "pantau: error: --lang must be id or en, not 'jv'"
