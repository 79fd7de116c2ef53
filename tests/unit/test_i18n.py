"""One localisation layer: every key in Bahasa Indonesia and English, the collectors' own
failure wordings recognised and rendered in both languages."""

from __future__ import annotations

import errno
import re
import string

import pytest

from agent.alerting.messages import TEMPLATES
from agent.i18n import CLI, PHASES, REASONS, SEVERITY, TABLES, parse_reason, reason_text
from agent.reports.render import TEXT
from collectors.probe.net import error_reason


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_in_both_languages() -> None:
    for key, texts in TEXT.items():
        assert set(texts) == {"id", "en"}, key
        assert texts["id"].strip() and texts["en"].strip(), key
        assert _fields(texts["id"]) == _fields(texts["en"]), key
    for table in TABLES:
        assert set(table) == {"id", "en"}
        assert set(table["id"]) == set(table["en"])
    for code in REASONS["id"]:
        assert _fields(REASONS["id"][code]) == _fields(REASONS["en"][code]), code
    assert set(TEMPLATES) == {"id", "en"}
    assert set(TEMPLATES["id"]) == set(TEMPLATES["en"])
    for kind in TEMPLATES["id"]:
        names = [set(re.findall(r"{{\s*(\w+)", "".join(TEMPLATES[lang][kind])))
                 for lang in ("id", "en")]
        assert names[0] == names[1], kind


def test_indonesian_texts_are_not_english() -> None:
    same = [k for k, v in TEXT.items() if v["id"] == v["en"]]
    assert same == ["target"], same  # "Target" is Indonesian too; anything else: untranslated
    assert [k for k in REASONS["id"] if REASONS["id"][k] == REASONS["en"][k]] == []
    assert SEVERITY["id"]["critical"] == "KRITIS"
    assert [k for k in PHASES["id"] if PHASES["id"][k] == PHASES["en"][k]] == []
    # the CLI's messages: "status" and a bare reason are the same words in both
    assert sorted(k for k in CLI["id"] if CLI["id"][k] == CLI["en"][k]) == [
        "col_status", "path_failed"]
    for key in CLI["id"]:
        assert _fields(CLI["id"][key]) == _fields(CLI["en"][key]), key


@pytest.mark.parametrize(("exc", "phase", "expected_id"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connecting", "koneksi ditolak"),
    (TimeoutError(), "connecting", "tidak ada jawaban dalam 2,0 dtk saat menghubungkan"),
    (TimeoutError(), "querying 10.0.0.53:53",
     "tidak ada jawaban dalam 2,0 dtk saat bertanya ke 10.0.0.53:53"),
    (TimeoutError(), "waiting for the response",
     "tidak ada jawaban dalam 2,0 dtk saat menunggu jawaban"),
    (OSError(errno.ENETUNREACH, "x"), "connecting", "jaringan tidak terjangkau"),
    (OSError(errno.EHOSTUNREACH, "x"), "connecting", "host tidak terjangkau"),
    (OSError(errno.ECONNRESET, "x"), "sending", "koneksi diputus oleh pihak lawan"),
])
def test_collector_wordings_are_recognised(exc: BaseException, phase: str,
                                           expected_id: str) -> None:
    """The reasons come from the collectors' own error_reason, not retyped here."""
    reason = error_reason(exc, phase=phase, budget=2.0)
    assert parse_reason(reason) is not None, reason
    assert reason_text(reason, "id") == expected_id
    assert reason_text(reason, "en") == reason  # English is the collectors' wording


@pytest.mark.parametrize(("reason", "expected_id"), [
    ("no reply from 203.0.113.1 (3 echo requests lost)",
     "tidak ada balasan dari 203.0.113.1 (3 ping hilang)"),
    ("status 503 not in 200-299", "status HTTP 503 (diharapkan 200-299)"),
    ("DNS rcode SERVFAIL", "DNS menjawab SERVFAIL"),
    ("certificate expired", "sertifikat TLS kedaluwarsa"),
    ("portal.example.go.id has no IPv6 address",
     "portal.example.go.id tidak punya alamat IPv6"),
    ("too many redirects (more than 5)", "terlalu banyak pengalihan (lebih dari 5)"),
])
def test_reasons_in_indonesian(reason: str, expected_id: str) -> None:
    assert reason_text(reason, "id") == expected_id
    assert reason_text(reason, "en") == reason


def test_every_reason_code_round_trips() -> None:
    """Each English template, filled in, is recognised as its own code again."""
    sample = {"host": "203.0.113.1", "count": "3", "seconds": "2.0", "phase": "while connecting",
              "rcode": "NXDOMAIN", "detail": "oops", "family": "IPv4", "status": "500",
              "expected": "200-299", "limit": "5", "pattern": "'ok'", "got": "'x'",
              "qtype": "A", "min": "1", "answer": "10.0.0.1"}
    for code, en in REASONS["en"].items():
        text = en.format(**{k: sample[k] for k in _fields(en)})
        parsed = parse_reason(text)
        assert parsed is not None and parsed[0] == code, (code, text, parsed)
        assert "{" not in reason_text(text, "id")


def test_unknown_reason_is_kept() -> None:
    assert reason_text("something new happened", "id") == "something new happened"
    assert reason_text("", "id") == ""


@pytest.mark.parametrize(("indication", "version", "starts_id"), [
    ("RequestTimedOut", "2c", "tidak ada jawaban SNMP (perangkat tak terjangkau, atau community"),
    ("RequestTimedOut", "3", "tidak ada jawaban SNMP (perangkat tak terjangkau atau pengguna"),
    ("WrongDigest", "3", "autentikasi SNMPv3 gagal"),
    ("DecryptionError", "3", "dekripsi SNMPv3 gagal"),
])
def test_snmp_wordings_are_recognised(indication: str, version: str, starts_id: str) -> None:
    """The SNMP collector's own reasons (collectors/snmp/walk.py), as the status page shows
    a device row's reason."""
    from collectors.snmp.walk import _reason

    reason = _reason(type(indication, (), {})(), version)
    assert parse_reason(reason) is not None, reason
    assert reason_text(reason, "id").startswith(starts_id)
    assert reason_text(reason, "en") == reason


@pytest.mark.parametrize("lang", ["id", "en"])
def test_status_page_words_come_from_the_tables(lang: str) -> None:
    """The live page's own text (outside its data and script) is made only of the words in
    agent/i18n.py STATUS_PAGE: nothing hard-coded in either language; its script gets
    exactly the table of its language plus the state words."""
    import html as html_mod
    import json

    from agent.i18n import STATES, STATUS_PAGE
    from agent.status.page import render_page

    page = render_page("kantor-contoh", lang, 10.0).decode()
    i18n = json.loads(re.search(r'<script id="i18n" type="application/json">(.*?)</script>',
                                page, re.S).group(1))  # type: ignore[union-attr]
    assert i18n == {**STATUS_PAGE[lang], "states": STATES[lang]}
    markup = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    visible = html_mod.unescape(re.sub(r"<[^>]+>", " ", markup))
    allowed = sorted({*STATUS_PAGE[lang].values(), STATUS_PAGE["id"]["lang_name"],
                      STATUS_PAGE["en"]["lang_name"]}, key=len, reverse=True)
    for word in allowed:  # whole words only ("at" is no part of "status")
        visible = re.sub(r"(?<![\w/])" + re.escape(word) + r"(?!\w)", " ", visible)
    for fixed in ("kantor-contoh", "/metrics", "/api/v1/status", "/api/v1/outages",
                  "/api/v1/maintenance", "pantau", "\u2014"):
        visible = visible.replace(fixed, " ")
    assert visible.split() == [], visible.split()
    attrs = re.findall(r'aria-label="([^"]*)"', markup)
    assert attrs and all(a in STATUS_PAGE[lang].values() for a in attrs), attrs
