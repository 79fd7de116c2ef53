"""Words shown to people in Bahasa Indonesia or English: failure reasons, severities, phases,
the status pages' words.

Collectors word their failure reasons in English for the logs and the metrics' details
("no reply from 203.0.113.1 (3 echo requests lost)"). A report or an alert in Indonesian must
not carry that English inside an Indonesian sentence, so each known wording is matched here
to a code with parameters and rendered per language. A reason no pattern knows is shown as
it is (a technical detail the admin can search for) rather than dropped.

Every table here has the same keys in "id" and "en"; tests/unit/test_i18n.py checks that.
"""

from __future__ import annotations

import re
from typing import Any

Lang = str

SEVERITY: dict[str, dict[str, str]] = {
    "id": {"critical": "KRITIS", "warning": "PERINGATAN", "info": "INFO"},
    "en": {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"},
}

# The step a probe was in when it failed (collectors/probe/tcp.py, http.py, net.py).
PHASES: dict[str, dict[str, str]] = {
    "id": {
        "resolving": "saat mencari alamat (DNS)",
        "connecting": "saat menghubungkan",
        "in the TLS handshake": "saat jabat tangan TLS",
        "sending": "saat mengirim",
        "sending the request": "saat mengirim permintaan",
        "waiting for the response": "saat menunggu jawaban",
        "reading the body": "saat membaca isi halaman",
        "querying": "saat bertanya ke",
        "waiting for data matching": "saat menunggu data yang cocok dengan",
    },
    "en": {
        "resolving": "while resolving",
        "connecting": "while connecting",
        "in the TLS handshake": "in the TLS handshake",
        "sending": "while sending",
        "sending the request": "while sending the request",
        "waiting for the response": "while waiting for the response",
        "reading the body": "while reading the body",
        "querying": "while querying",
        "waiting for data matching": "while waiting for data matching",
    },
}

# code -> text with {parameters}; the English texts are the collectors' own wording.
REASONS: dict[str, dict[str, str]] = {
    "id": {
        "icmp_loss": "tidak ada balasan dari {host} ({count} ping hilang)",
        "timeout": "tidak ada jawaban dalam {seconds} dtk {phase}",
        "refused": "koneksi ditolak",
        "net_unreachable": "jaringan tidak terjangkau",
        "host_unreachable": "host tidak terjangkau",
        "reset": "koneksi diputus oleh pihak lawan",
        "conn_timed_out": "koneksi habis waktu",
        "addr_unavailable": "alamat tidak tersedia",
        "dns_rcode": "DNS menjawab {rcode}",
        "dns_failed": "pencarian DNS {host} gagal: {detail}",
        "no_address": "{host} tidak punya alamat {family}",
        "http_status": "status HTTP {status} (diharapkan {expected})",
        "http_protocol": "kesalahan protokol HTTP {phase}: {detail}",
        "too_many_redirects": "terlalu banyak pengalihan (lebih dari {limit})",
        "body_too_large": "isi halaman lebih besar dari max_body_bytes ({limit})",
        "body_no_match": "isi halaman tidak cocok dengan {pattern}",
        "body_forbidden": "isi halaman memuat pola terlarang {pattern}",
        "tls_expired": "sertifikat TLS kedaluwarsa",
        "tls_not_yet_valid": "sertifikat TLS belum berlaku",
        "tls_unknown_ca": "sertifikat TLS ditandatangani otoritas yang tidak dikenal ({detail})",
        "tls_hostname": "sertifikat TLS tidak cocok dengan nama host ({detail})",
        "tls_verify": "verifikasi sertifikat TLS gagal: {detail}",
        "tls_handshake": "jabat tangan TLS gagal: {detail}",
        "banner": "banner tidak cocok dengan {pattern} (diterima {got})",
        "dns_answers": "{count} jawaban {qtype}, diharapkan paling sedikit {min}",
        "dns_answer_match": "jawaban {answer} tidak cocok dengan {pattern}",
        "agent_restart": "agen dimulai ulang",
        "snmp_silent_v2c": "tidak ada jawaban SNMP (perangkat tak terjangkau, atau community "
                           "salah: agen SNMP diam saja)",
        "snmp_silent_v3": "tidak ada jawaban SNMP (perangkat tak terjangkau atau pengguna "
                          "SNMPv3 tidak dikenal)",
        "snmp_auth": "autentikasi SNMPv3 gagal (kata sandi auth atau protokol salah)",
        "snmp_decrypt": "dekripsi SNMPv3 gagal (kata sandi priv atau protokol salah)",
        "snmp_user": "pengguna SNMPv3 tidak dikenal perangkat",
    },
    "en": {
        "icmp_loss": "no reply from {host} ({count} echo requests lost)",
        "timeout": "timeout after {seconds}s {phase}",
        "refused": "connection refused",
        "net_unreachable": "network unreachable",
        "host_unreachable": "host unreachable",
        "reset": "connection reset by peer",
        "conn_timed_out": "connection timed out",
        "addr_unavailable": "address not available",
        "dns_rcode": "DNS rcode {rcode}",
        "dns_failed": "DNS lookup of {host} failed: {detail}",
        "no_address": "{host} has no {family} address",
        "http_status": "status {status} not in {expected}",
        "http_protocol": "HTTP protocol error {phase}: {detail}",
        "too_many_redirects": "too many redirects (more than {limit})",
        "body_too_large": "body larger than max_body_bytes ({limit})",
        "body_no_match": "body did not match {pattern}",
        "body_forbidden": "body matched forbidden {pattern}",
        "tls_expired": "certificate expired",
        "tls_not_yet_valid": "certificate not yet valid",
        "tls_unknown_ca": "certificate signed by an unknown authority ({detail})",
        "tls_hostname": "certificate does not match the host name ({detail})",
        "tls_verify": "certificate verification failed: {detail}",
        "tls_handshake": "TLS handshake failed: {detail}",
        "banner": "banner did not match {pattern} (got {got})",
        "dns_answers": "{count} {qtype} answers, expected at least {min}",
        "dns_answer_match": "answer {answer} did not match {pattern}",
        "agent_restart": "agent restart",
        "snmp_silent_v2c": "no response (device unreachable, or wrong community: agents stay "
                           "silent)",
        "snmp_silent_v3": "no response (device unreachable or SNMPv3 user unknown)",
        "snmp_auth": "SNMPv3 authentication failed (wrong auth password or protocol)",
        "snmp_decrypt": "SNMPv3 decryption failed (wrong priv password or protocol)",
        "snmp_user": "SNMPv3 user unknown to the device",
    },
}

# Events that change no state (agent/history.py `events`), in the history views, the report
# and the path-change notification (agent/alerting/messages.py).
EVENTS: dict[str, dict[str, str]] = {
    "id": {
        "path_change": "rute ke {target} berubah: lewat {via}",
        "path_change_title": "[RUTE] {check} — {site}",
        "route_new": "Rute baru",
        "route_old": "Rute lama",
    },
    "en": {
        "path_change": "route to {target} changed: via {via}",
        "path_change_title": "[ROUTE] {check} — {site}",
        "route_new": "New route",
        "route_old": "Old route",
    },
}


def event_text(kind: str, detail: dict[str, Any], lang: Lang) -> str:
    """One line for an event, e.g. "rute ke portal berubah: lewat ISP cadangan"."""
    table = EVENTS[lang if lang in EVENTS else "en"]
    if kind == "path_change":
        via = [str(v) for v in detail.get("via") or []]
        return table["path_change"].format(target=detail.get("target", ""),
                                           via=join_words(via, lang) or "?")
    return kind


# Messages of the `pantau` commands meant for people (agent/cli/); the language is chosen by
# agent/cli/common.py cli_lang().
CLI: dict[str, dict[str, str]] = {
    "id": {
        "error": "pantau: kesalahan: {message}",
        "bad_lang": "--lang harus id atau en, bukan {value!r}",
        "no_config": "tidak ada konfigurasi: berikan --config BERKAS atau buat {path}",
        "unknown_check": "pemeriksaan {name!r} tidak dikenal",
        "unknown_checks": "pemeriksaan tidak dikenal: {names}",
        "whole_site": "seluruh kantor",
        "from_config": "konfig",
        "bad_time": "{what}: {text!r} bukan waktu seperti {example!r}",
        "end_before_start": "--end harus sesudah --start",
        "check_or_whole_site": "--check atau --whole-site, jangan keduanya",
        "maint_recorded": "pemeliharaan {start} .. {end} ({scope}) dicatat",
        "maint_removed": "jadwal pemeliharaan #{id} dihapus",
        "maint_changed": "jadwal pemeliharaan #{id} diubah",
        "maint_none": "tidak ada jadwal pemeliharaan #{id} yang tercatat (lihat `pantau "
                      "maintenance list`)",
        "maint_empty": "belum ada jadwal pemeliharaan",
        "note_length": "catatan harus 1 sampai 500 karakter",
        "no_outage": "belum ada gangguan {check!r} yang tercatat sebelum waktu itu",
        "note_recorded": "catatan dicatat untuk gangguan {check} yang mulai {start}",
        "report_format": "--format harus html, pdf, csv atau json, bukan {value!r}",
        "report_lang": "--lang harus id atau en, bukan {value!r}",
        "month_or_range": "--month atau --from/--to, jangan keduanya",
        "period_needed": "berikan --month 2026-11, atau --from 2026-11-01 --to 2026-12-01",
        "bad_month": "--month: {text!r} bukan bulan seperti 2026-11",
        "bad_date": "{what}: {text!r} bukan tanggal seperti 2026-11-01",
        "to_before_from": "--to harus sesudah --from",
        "report_written": "{path} ditulis ({fmt}, {n} pemeriksaan, {start} .. {end} {tz})",
        "unknown_receiver": "penerima {name!r} tidak dikenal (yang ada: {known})",
        "none_configured": "belum ada",
        "receiver_failed": "penerima {name}: {detail}",
        "test_sent": "pesan uji terkirim ke {name}",
        "col_time": "waktu ({tz})",
        "col_check": "pemeriksaan",
        "col_kind": "jenis",
        "col_receiver": "penerima",
        "col_status": "status",
        "col_tries": "coba",
        "col_error": "kesalahan",
        "col_change": "perubahan",
        "col_root_cause": "akar masalah",
        "col_reason": "keterangan",
        "col_state": "keadaan",
        "col_since": "sejak",
        "state_up": "NORMAL",
        "state_down": "GANGGUAN",
        "state_unknown": "BELUM DIKETAHUI",
        "state_unreachable": "TAK TERJANGKAU",
        "status_none": "belum ada data: agen belum pernah berjalan dengan state_dir ini",
        "status_summary": "{site}: {up} normal, {down} gangguan, {unknown} belum diketahui",
        "path_answered": "pantau: {target} menjawab",
        "path_failed": "pantau: {reason}",
        "count_range": "--count: antara 1 dan 10000",
        "bad_choice": "{option}: {value!r} bukan salah satu dari {choices}",
        "state_dir_unusable": "state dir {path} tidak dapat dipakai: {detail}",
        "cannot_listen": "tidak dapat mendengarkan di {addr}: {detail}",
        "config_ok": "{file}: OK (kantor {site!r}, {checks} pemeriksaan, {jobs} tugas)",
        "discovered_dropped": "pantau: peringatan: pemeriksaan hasil penemuan dibuang: "
                              "{detail}",
        "backup_done": "{file}: {parts} (dari {src})",
        "backup_nothing": "tidak ada yang perlu dicadangkan",
        "backup_config": "konfigurasi {path}",
        "backup_no_config": "tidak ada konfigurasi: berikan --config BERKAS atau --state-dir "
                            "DIREKTORI",
        "cannot_read": "tidak dapat membaca {path}: {detail}",
        "no_such_file": "{file}: berkas tidak ada",
        "restore_note": "pantau: catatan: {note}",
        "restored": "{parts} dipulihkan ke {target}",
        "restored_config": "; konfigurasi di {path}",
        "restore_nothing": "tidak ada apa pun",
        "rules_base_needed": "tautan runbook harus lengkap (absolut): berikan --runbook-base-url "
                             "URL atau isi alerts.runbook_base_url",
        "bad_url": "{what}: {url!r} bukan URL http(s) lengkap, misalnya {example}",
        "written": "{path} ditulis",
        "cannot_write": "tidak dapat menulis {path}: {detail}",
        # snmp, probe, status-page, playbook, ssh
        "none": "tidak ada",
        "snmp_unknown_device": "perangkat {name!r} tidak dikenal (yang terkonfigurasi: {known})",
        "snmp_values": "# {n} nilai",
        "snmp_ok": "{device} ({address}): OK dalam {ms} md, {values} nilai, {ifaces} antarmuka",
        "probe_unknown_type": "jenis pemeriksaan {type!r} tidak dikenal (yang dikenal: {known})",
        "probe_no_result": "tidak ada hasil dalam {seconds} dtk",
        "public_off": "halaman status publik mati: isi status_page.public: true dan daftarkan "
                      "status_page.services",
        "public_no_services": "status_page.services kosong: daftarkan layanan yang boleh "
                              "dilihat warga",
        "files_written": "ditulis: {files}",
        "bad_param": "--param {item!r}: tulis NAMA=NILAI",
        "audit_not_written": "pantau: peringatan: log audit tidak ditulis: {detail}",
        "pb_parameters": "parameter:",
        "pb_steps": "langkah:",
        "pb_required": "wajib",
        "pb_default": "bawaan {value!r}",
        "pb_one_of": " salah satu dari {choices}",
        "pb_step": "{i}. {name} [batas waktu {timeout} dtk, jika gagal {on_failure}]",
        "ssh_presents": "{name} menunjukkan kunci {alg} dengan sidik jari {fp}",
        "ssh_already": "sudah dipercaya di {path}",
        "ssh_different": "PERINGATAN: {path} menyimpan kunci {alg} yang BERBEDA untuk {name}: "
                         "{fp} -- pastikan server itu memang dipasang ulang atau diganti kuncinya",
        "ssh_confirm": "Percayai kunci ini?",
        "ssh_not_trusted": "tidak dipercaya; tidak ada yang ditulis",
        "ssh_trusted": "{name} dipercaya di {path}",
        "ssh_timed_out": "perintah melewati batas {timeout} dtk dan dihentikan",
        # inventory, install
        "inv_cannot_read": "{file}: tidak dapat dibaca: {detail}",
        "inv_summary": "{scraped} kantor di-scrape (file_sd), {push} mengirim lewat remote_write",
        "install_head": "pemasangan pantau ({what}):",
        "install_changes": "ada perubahan",
        "install_nothing": "tidak ada yang perlu diubah",
        "install_next": "berikutnya: sunting /etc/pantau/pantau.yml dan /etc/pantau/pantau.env, "
                        "lalu `pantau check-config /etc/pantau/pantau.yml` dan "
                        "`systemctl restart pantau`",
    },
    "en": {
        "error": "pantau: error: {message}",
        "bad_lang": "--lang must be id or en, not {value!r}",
        "no_config": "no config: pass --config FILE or create {path}",
        "unknown_check": "unknown check {name!r}",
        "unknown_checks": "unknown check(s): {names}",
        "whole_site": "whole site",
        "from_config": "config",
        "bad_time": "{what}: {text!r} is not a time like {example!r}",
        "end_before_start": "--end must be after --start",
        "check_or_whole_site": "--check or --whole-site, not both",
        "maint_recorded": "maintenance {start} .. {end} ({scope}) recorded",
        "maint_removed": "maintenance window #{id} removed",
        "maint_changed": "maintenance window #{id} changed",
        "maint_none": "no recorded maintenance window #{id} (see `pantau maintenance list`)",
        "maint_empty": "no maintenance windows",
        "note_length": "the note must have 1 to 500 characters",
        "no_outage": "no outage of {check!r} recorded before that time",
        "note_recorded": "note recorded for the outage of {check} that began {start}",
        "report_format": "--format must be html, pdf, csv or json, not {value!r}",
        "report_lang": "--lang must be id or en, not {value!r}",
        "month_or_range": "--month or --from/--to, not both",
        "period_needed": "give --month 2026-11, or --from 2026-11-01 --to 2026-12-01",
        "bad_month": "--month: {text!r} is not a month like 2026-11",
        "bad_date": "{what}: {text!r} is not a date like 2026-11-01",
        "to_before_from": "--to must be after --from",
        "report_written": "wrote {path} ({fmt}, {n} checks, {start} .. {end} {tz})",
        "unknown_receiver": "unknown receiver {name!r} (known: {known})",
        "none_configured": "none configured",
        "receiver_failed": "receiver {name}: {detail}",
        "test_sent": "test message sent to {name}",
        "col_time": "time ({tz})",
        "col_check": "check",
        "col_kind": "kind",
        "col_receiver": "receiver",
        "col_status": "status",
        "col_tries": "tries",
        "col_error": "error",
        "col_change": "change",
        "col_root_cause": "root cause",
        "col_reason": "reason",
        "col_state": "state",
        "col_since": "since",
        "state_up": "UP",
        "state_down": "DOWN",
        "state_unknown": "UNKNOWN",
        "state_unreachable": "UNREACHABLE",
        "status_none": "no data yet: the agent has never run with this state_dir",
        "status_summary": "{site}: {up} up, {down} down, {unknown} unknown",
        "path_answered": "pantau: {target} answered",
        "path_failed": "pantau: {reason}",
        "count_range": "--count: between 1 and 10000",
        "bad_choice": "{option}: {value!r} is not one of {choices}",
        "state_dir_unusable": "cannot use state dir {path}: {detail}",
        "cannot_listen": "cannot listen on {addr}: {detail}",
        "config_ok": "{file}: OK (site {site!r}, {checks} checks, {jobs} jobs)",
        "discovered_dropped": "pantau: warning: discovered checks dropped: {detail}",
        "backup_done": "{file}: {parts} (from {src})",
        "backup_nothing": "nothing to back up",
        "backup_config": "config {path}",
        "backup_no_config": "no config: pass --config FILE or --state-dir DIR",
        "cannot_read": "cannot read {path}: {detail}",
        "no_such_file": "{file}: no such file",
        "restore_note": "pantau: note: {note}",
        "restored": "restored {parts} into {target}",
        "restored_config": "; config at {path}",
        "restore_nothing": "nothing",
        "rules_base_needed": "runbook links must be absolute: pass --runbook-base-url URL or "
                             "set alerts.runbook_base_url",
        "bad_url": "{what}: {url!r} is not an absolute http(s) URL, e.g. {example}",
        "written": "wrote {path}",
        "cannot_write": "cannot write {path}: {detail}",
        # snmp, probe, status-page, playbook, ssh
        "none": "none",
        "snmp_unknown_device": "unknown device {name!r} (configured: {known})",
        "snmp_values": "# {n} values",
        "snmp_ok": "{device} ({address}): OK in {ms} ms, {values} values, {ifaces} interfaces",
        "probe_unknown_type": "unknown check type {type!r} (known: {known})",
        "probe_no_result": "no result within {seconds}s",
        "public_off": "the public status page is off: set status_page.public: true and list "
                      "status_page.services",
        "public_no_services": "status_page.services is empty: list the services citizens "
                              "should see",
        "files_written": "wrote {files}",
        "bad_param": "--param {item!r}: use NAME=VALUE",
        "audit_not_written": "pantau: warning: audit log not written: {detail}",
        "pb_parameters": "parameters:",
        "pb_steps": "steps:",
        "pb_required": "required",
        "pb_default": "default {value!r}",
        "pb_one_of": " one of {choices}",
        "pb_step": "{i}. {name} [timeout {timeout}s, on failure {on_failure}]",
        "ssh_presents": "{name} presents a {alg} key with fingerprint {fp}",
        "ssh_already": "already trusted in {path}",
        "ssh_different": "WARNING: {path} has a DIFFERENT {alg} key for {name}: {fp}"
                         " -- make sure the server was really reinstalled or re-keyed",
        "ssh_confirm": "Trust this key?",
        "ssh_not_trusted": "not trusted; nothing written",
        "ssh_trusted": "trusted {name} in {path}",
        "ssh_timed_out": "command timed out after {timeout}s and was killed",
        # inventory, install
        "inv_cannot_read": "{file}: cannot read: {detail}",
        "inv_summary": "{scraped} offices scraped (file_sd), {push} push with remote_write",
        "install_head": "pantau install ({what}):",
        "install_changes": "changes",
        "install_nothing": "nothing to change",
        "install_next": "next: edit /etc/pantau/pantau.yml and /etc/pantau/pantau.env, then "
                        "`pantau check-config /etc/pantau/pantau.yml` and "
                        "`systemctl restart pantau`",
    },
}

_PHASE_RE = r"(?P<phase>while .+|in the TLS handshake)"

# (code, pattern over the English wording); the first match wins.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(rx + r"$")) for code, rx in (
        ("icmp_loss", r"no reply from (?P<host>\S+) \((?P<count>\d+) echo requests lost\)"),
        ("timeout", r"timeout after (?P<seconds>[\d.]+)s " + _PHASE_RE),
        ("refused", r"connection refused"),
        ("net_unreachable", r"network unreachable"),
        ("host_unreachable", r"host unreachable"),
        ("reset", r"connection reset by peer"),
        ("conn_timed_out", r"connection timed out"),
        ("addr_unavailable", r"address not available"),
        ("dns_rcode", r"DNS rcode (?P<rcode>\w+)"),
        ("dns_failed", r"DNS lookup of (?P<host>\S+) failed: (?P<detail>.*)"),
        ("no_address", r"(?P<host>\S+) has no (?P<family>IPv4|IPv6) address"),
        ("http_status", r"status (?P<status>\d+) not in (?P<expected>.+)"),
        ("http_protocol", r"HTTP protocol error " + r"(?P<phase>while [^:]+): (?P<detail>.*)"),
        ("too_many_redirects", r"too many redirects \(more than (?P<limit>\d+)\)"),
        ("body_too_large", r"body larger than max_body_bytes \((?P<limit>\d+)\)"),
        ("body_no_match", r"body did not match (?P<pattern>.+)"),
        ("body_forbidden", r"body matched forbidden (?P<pattern>.+)"),
        ("tls_expired", r"certificate expired"),
        ("tls_not_yet_valid", r"certificate not yet valid"),
        ("tls_unknown_ca", r"certificate signed by an unknown authority \((?P<detail>.*)\)"),
        ("tls_hostname", r"certificate does not match the host name \((?P<detail>.*)\)"),
        ("tls_verify", r"certificate verification failed: (?P<detail>.*)"),
        ("tls_handshake", r"TLS handshake failed: (?P<detail>.*)"),
        ("banner", r"banner did not match (?P<pattern>.+) \(got (?P<got>.*)\)"),
        ("dns_answers", r"(?P<count>\d+) (?P<qtype>\w+) answers, expected at least (?P<min>\d+)"),
        ("dns_answer_match", r"answer (?P<answer>\S+) did not match (?P<pattern>.+)"),
        ("agent_restart", r"agent restart"),
        # collectors/snmp/walk.py and v2c.py
        ("snmp_silent_v2c", r"no response \(device unreachable, or wrong community: agents "
                            r"stay silent\)"),
        ("snmp_silent_v3", r"no response \(device unreachable or SNMPv3 user unknown\)"),
        ("snmp_auth", r"SNMPv3 authentication failed \(wrong auth password or protocol\)"),
        ("snmp_decrypt", r"SNMPv3 decryption failed \(wrong priv password or protocol\)"),
        ("snmp_user", r"SNMPv3 user unknown to the device"),
    )
)


def _phase(text: str, lang: Lang) -> str:
    """'while querying 10.0.0.53:53' -> 'saat bertanya ke 10.0.0.53:53'."""
    words = text.removeprefix("while ")
    table = PHASES[lang]
    for key in sorted(table, key=len, reverse=True):
        if words == key or words.startswith(key + " "):
            return table[key] + words[len(key):]
    return text


def parse_reason(reason: str) -> tuple[str, dict[str, str]] | None:
    """(code, parameters) of a collector's reason, None for a wording not known here."""
    for code, rx in _PATTERNS:
        m = rx.match(reason.strip())
        if m:
            return code, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


def reason_text(reason: str, lang: Lang) -> str:
    """A collector's failure reason in the language of the page or the alert."""
    if not reason:
        return ""
    parsed = parse_reason(reason)
    if parsed is None:
        return reason
    code, params = parsed
    if "phase" in params:
        params["phase"] = _phase(params["phase"], lang)
    if lang == "id" and "seconds" in params:
        params["seconds"] = params["seconds"].replace(".", ",")
    return REASONS[lang if lang in REASONS else "en"][code].format(**params)


def severity_word(severity: str, lang: Lang) -> str:
    return SEVERITY.get(lang, SEVERITY["en"]).get(severity, severity.upper())


def join_words(items: list[str], lang: Lang) -> str:
    """'a', 'a dan b', 'a, b dan c' / 'a and b'."""
    word = " dan " if lang == "id" else " and "
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + word + items[-1]


def cli_text(key: str, lang: Lang, **params: object) -> str:
    """A `pantau` command's message in the chosen language."""
    return CLI[lang if lang in CLI else "en"][key].format(**params)


# The states of the status pages and the API's `state_text` (agent/status/).
STATES: dict[str, dict[str, str]] = {
    "id": {"up": "naik", "down": "turun", "unreachable": "tak terjangkau",
           "maintenance": "pemeliharaan", "unknown": "belum diketahui"},
    "en": {"up": "up", "down": "down", "unreachable": "unreachable", "maintenance": "maintenance",
           "unknown": "unknown"},
}

# The live status page at / (agent/status/page.py); its script gets the table of its language.
STATUS_PAGE: dict[str, dict[str, str]] = {
    "id": {
        "title": "Status layanan", "updated": "Diperbarui", "stale": "Gagal memperbarui",
        "open": "Gangguan saat ini", "none_open": "Tidak ada gangguan.",
        "since": "sejak", "for": "selama", "target": "target", "cause": "akar masalah",
        "reason": "alasan", "last_error": "galat terakhir", "rtt": "waktu respons",
        "avail": "ketersediaan bulan ini", "maint": "Pemeliharaan terjadwal",
        "until": "sampai", "all": "semua", "spark": "Waktu respons satu jam terakhir",
        "nodata": "belum ada data", "suppressed_by": "ditekan karena akar masalah",
        "host": "Server ini", "gateway": "Gateway", "uplinks": "Uplink ISP", "dns": "DNS",
        "services": "Layanan", "network": "Perangkat jaringan", "noscript":
        "Halaman ini memerlukan JavaScript; datanya ada di /api/v1/status.",
        "summary": "Ringkasan", "loading": "Memuat\u2026",
        "acked": "Ditangani oleh", "acked_at": "pada", "via": "melalui",
        "language": "Bahasa", "lang_name": "Bahasa Indonesia",
    },
    "en": {
        "title": "Service status", "updated": "Updated", "stale": "Refresh failed",
        "open": "Open outages", "none_open": "No open outages.",
        "since": "since", "for": "for", "target": "target", "cause": "root cause",
        "reason": "reason", "last_error": "last error", "rtt": "response time",
        "avail": "availability this month", "maint": "Planned maintenance",
        "until": "until", "all": "all", "spark": "Response time over the last hour",
        "nodata": "no data yet", "suppressed_by": "suppressed, root cause",
        "host": "This server", "gateway": "Gateway", "uplinks": "ISP uplinks", "dns": "DNS",
        "services": "Services", "network": "Network gear", "noscript":
        "This page needs JavaScript; its data is at /api/v1/status.",
        "summary": "Summary", "loading": "Loading\u2026",
        "acked": "Taken on by", "acked_at": "at", "via": "via",
        "language": "Language", "lang_name": "English",
    },
}

# The citizens' page at /status and its static export (agent/status/public.py).
PUBLIC_PAGE: dict[str, dict[str, str]] = {
    "id": {"title": "Status Layanan", "up": "Beroperasi normal", "down": "Sedang terganggu",
           "maintenance": "Dalam pemeliharaan", "unknown": "Status belum diketahui",
           "all_up": "Semua layanan beroperasi normal.",
           "some_down": "Sebagian layanan sedang terganggu. Kami sedang menanganinya.",
           "days": "Ketersediaan {n} hari terakhir", "incidents": "Riwayat gangguan",
           "no_incidents": "Tidak ada gangguan dalam {n} hari terakhir.",
           "maint": "Pemeliharaan terjadwal", "no_maint": "Tidak ada pemeliharaan terjadwal.",
           "start": "Mulai", "end": "Selesai", "ongoing": "masih berlangsung",
           "duration": "Lama", "updated": "Diperbarui", "nodata": "belum ada data",
           "incident": "Gangguan layanan", "planned": "Pemeliharaan terjadwal",
           "other": "English"},
    "en": {"title": "Service Status", "up": "Operational", "down": "Disrupted",
           "maintenance": "Under maintenance", "unknown": "Status unknown",
           "all_up": "All services are operational.",
           "some_down": "Some services are disrupted. We are working on it.",
           "days": "Availability over the last {n} days", "incidents": "Past incidents",
           "no_incidents": "No incidents in the last {n} days.",
           "maint": "Planned maintenance", "no_maint": "No maintenance planned.",
           "start": "Start", "end": "End", "ongoing": "ongoing", "duration": "Duration",
           "updated": "Updated", "nodata": "no data yet", "incident": "Service disruption",
           "planned": "Planned maintenance", "other": "Bahasa Indonesia"},
}

TABLES: tuple[dict[str, dict[str, str]], ...] = (SEVERITY, PHASES, REASONS, EVENTS, CLI,
                                                  STATES, STATUS_PAGE, PUBLIC_PAGE)
