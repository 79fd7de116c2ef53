"""What the on-call admin may type, parsed without side effects, and the bot's words in
Bahasa Indonesia and English.

Parsing is separate from doing so a bad command can only ever produce an error text: nothing
here runs, probes or reads anything, and every check name is looked up in the configured
checks before any action takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.config import parse_duration

MAX_MUTE = 7 * 86400.0  # a forgotten mute must not hide an office for a month
MAX_REASON = 200

TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "help": "Perintah pantau:\n"
                "/status — ringkasan semua pemeriksaan\n"
                "/down — yang sedang gangguan\n"
                "/ack CHECK — saya tangani gangguan ini (pengingat berhenti)\n"
                "/mute CHECK 2h [alasan] — bisukan sebagai pemeliharaan (berakhir sendiri)\n"
                "/unmute CHECK — akhiri pemeliharaan sekarang\n"
                "/laporan — ketersediaan bulan ini\n"
                "/help — bantuan ini",
        "refused": "Maaf, Anda tidak berwenang memberi perintah ke pantau. "
                   "Percobaan ini dicatat.",
        "unknown_command": "Perintah tidak dikenal: {cmd}. Ketik /help.",
        "usage_ack": "Cara pakai: /ack CHECK",
        "usage_mute": "Cara pakai: /mute CHECK 2h [alasan] (durasi mis. 30m, 2h, 1d; "
                      "paling lama 7 hari)",
        "usage_unmute": "Cara pakai: /unmute CHECK",
        "unknown_check": "Pemeriksaan {check!r} tidak ada dalam konfigurasi.",
        "ack_ok": "✓ {check}: ditangani oleh {by} pada {at}. Pengingat dihentikan.",
        "ack_already": "{check} sudah ditangani oleh {by} pada {at}.",
        "ack_not_down": "{check} tidak sedang gangguan.",
        "mute_ok": "🔇 {check} dibisukan sampai {until} (pemeliharaan: {reason}). "
                   "Dikecualikan dari laporan SLA.",
        "mute_reason": "dibisukan lewat Telegram oleh {by}",
        "unmute_ok": "🔔 {check}: pemeliharaan diakhiri ({n} jendela).",
        "unmute_none": "{check} tidak sedang dibisukan.",
        "status_head": "Status {site} — {at}\nNaik: {up}, turun: {down}, ditekan: {supp}, "
                       "belum diketahui: {unknown}",
        "down_none": "Tidak ada gangguan saat ini.",
        "down_line": "▼ {check} sejak {since}{cause}{ack}{muted}",
        "cause": " (akar masalah: {cause})",
        "acked": " — ditangani {by}",
        "muted": " — dibisukan",
        "report_head": "Ketersediaan bulan ini — {site}",
        "report_line": "{check}: {ratio} (target {target}){flag}",
        "report_none": "Belum ada data bulan ini.",
        "error": "Maaf, perintah gagal dijalankan: {error}",
        "button_ok": "Tercatat",
        "confirm_ask": "Jalankan {playbook} di {host} untuk gangguan {check}?",
        "yes": "Ya", "no": "Tidak",
        "confirm_yes": "▶ Dijalankan atas persetujuan {by}.",
        "confirm_no": "✋ Tidak dijalankan ({by}).",
        "confirm_timeout": "⌛ Tidak ada jawaban: tidak dijalankan.",
        "confirm_gone": "Permintaan ini sudah diputuskan atau kedaluwarsa.",
    },
    "en": {
        "help": "pantau commands:\n"
                "/status — summary of every check\n"
                "/down — what is down now\n"
                "/ack CHECK — I am on it (stops the reminders)\n"
                "/mute CHECK 2h [reason] — mute as maintenance (ends by itself)\n"
                "/unmute CHECK — end the maintenance now\n"
                "/report (/laporan) — this month's availability\n"
                "/help — this help",
        "refused": "Sorry, you are not allowed to command pantau. This attempt was logged.",
        "unknown_command": "Unknown command: {cmd}. Type /help.",
        "usage_ack": "Usage: /ack CHECK",
        "usage_mute": "Usage: /mute CHECK 2h [reason] (duration e.g. 30m, 2h, 1d; "
                      "at most 7 days)",
        "usage_unmute": "Usage: /unmute CHECK",
        "unknown_check": "There is no check {check!r} in the configuration.",
        "ack_ok": "✓ {check}: acknowledged by {by} at {at}. Reminders stopped.",
        "ack_already": "{check} was already acknowledged by {by} at {at}.",
        "ack_not_down": "{check} is not down.",
        "mute_ok": "🔇 {check} muted until {until} (maintenance: {reason}). "
                   "Excluded from the SLA report.",
        "mute_reason": "muted from Telegram by {by}",
        "unmute_ok": "🔔 {check}: maintenance ended ({n} window(s)).",
        "unmute_none": "{check} is not muted.",
        "status_head": "Status of {site} — {at}\nUp: {up}, down: {down}, suppressed: {supp}, "
                       "unknown: {unknown}",
        "down_none": "Nothing is down right now.",
        "down_line": "▼ {check} since {since}{cause}{ack}{muted}",
        "cause": " (root cause: {cause})",
        "acked": " — acknowledged by {by}",
        "muted": " — muted",
        "report_head": "Availability this month — {site}",
        "report_line": "{check}: {ratio} (target {target}){flag}",
        "report_none": "No data yet this month.",
        "error": "Sorry, the command failed: {error}",
        "button_ok": "Recorded",
        "confirm_ask": "Run {playbook} on {host} for the outage of {check}?",
        "yes": "Yes", "no": "No",
        "confirm_yes": "▶ Running, confirmed by {by}.",
        "confirm_no": "✋ Not run ({by}).",
        "confirm_timeout": "⌛ No answer: not run.",
        "confirm_gone": "This request was already decided or has expired.",
    },
}

# every spelling a command may take, in both languages, to its one meaning
COMMANDS = {"status": "status", "down": "down", "gangguan": "down", "ack": "ack",
            "tangani": "ack", "mute": "mute", "bisukan": "mute", "unmute": "unmute",
            "laporan": "report", "report": "report", "help": "help", "bantuan": "help",
            "start": "help"}


@dataclass(frozen=True)
class Command:
    name: str  # status, down, ack, mute, unmute, report, help
    check: str = ""
    seconds: float = 0.0
    reason: str = ""


class Invalid(Exception):
    """A command that cannot be run; the message key (and its values) is the reply."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def parse(text: str) -> Command | None:
    """A command from a message text; None when the text is not a command at all (chat)."""
    words = text.strip().split()
    if not words or not words[0].startswith("/"):
        return None
    # "/status@pantau_bot" in groups: the part after @ names the bot
    head = words[0][1:].split("@", 1)[0].lower()
    name = COMMANDS.get(head)
    if name is None:
        raise Invalid("unknown_command", cmd=words[0][:40])
    args = words[1:]
    if name in ("ack", "unmute"):
        if len(args) != 1:
            raise Invalid(f"usage_{name}")
        return Command(name, check=args[0])
    if name == "mute":
        if len(args) < 2:
            raise Invalid("usage_mute")
        try:
            seconds = parse_duration(args[1])
        except (ValueError, TypeError):
            raise Invalid("usage_mute") from None
        if not 0 < seconds <= MAX_MUTE:
            raise Invalid("usage_mute")
        return Command("mute", check=args[0], seconds=seconds,
                       reason=" ".join(args[2:])[:MAX_REASON])
    return Command(name)


def button(data: str) -> Command | None:
    """A pressed inline button ("ack:web", "mute1h:web", "mute4h:web", "status:web")."""
    action, _, check = data.partition(":")
    if not check:
        return None
    if action == "ack":
        return Command("ack", check=check)
    if action in ("mute1h", "mute4h"):
        return Command("mute", check=check, seconds=3600.0 if action == "mute1h" else 14400.0)
    if action == "status":
        return Command("down")
    return None
