"""Time zones and human-readable times and durations, one rule for alerts and reports.

Offices name their zone WIB, WITA or WIT; an IANA name works too. A duration is rounded to
whole seconds once and shown as its two largest units, so an alert and the monthly report say
the same words for the same outage ("1 mnt 31 dtk" / "1 min 31 s" for 90.6 s). The
abbreviations are the unambiguous ones: "2m 43d" read as two months and 43 days to an
Indonesian reader, and "m" is minutes or months in English too.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Indonesia's three zones by their everyday names.
ZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}
_ABBR = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
         "Asia/Jayapura": "WIT"}
_MONTHS = {
    "id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}
_UNITS = {"id": ("hari", "jam", "mnt", "dtk"), "en": ("d", "h", "min", "s")}


def resolve_zone(name: str) -> ZoneInfo:
    """WIB/WITA/WIT or an IANA name; ValueError with the accepted forms otherwise."""
    try:
        return ZoneInfo(ZONES.get(name.upper(), name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use WIB, WITA, WIT or an IANA name like Asia/Makassar"
        ) from None


def zone_abbr(zone: ZoneInfo, dt: datetime) -> str:
    return _ABBR.get(str(zone.key), dt.strftime("%Z"))


def format_time(ts: float, zone: ZoneInfo, lang: str) -> str:
    """"3 Nov 2026 14:05:09 WIB" (month names in the language)."""
    dt = datetime.fromtimestamp(ts, zone)
    month = _MONTHS.get(lang, _MONTHS["en"])[dt.month - 1]
    return f"{dt.day} {month} {dt.year} {dt:%H:%M:%S} {zone_abbr(zone, dt)}"


def format_span(seconds: float, lang: str) -> str:
    """A duration in its two largest units: "2 jam 5 mnt" / "2 h 5 min"; "2 mnt 43 dtk" /
    "2 min 43 s". The only duration wording pantau shows people (alerts, reports, status)."""
    s = max(0, round(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    units = _UNITS["id" if lang == "id" else "en"]
    parts = [f"{v} {u}" for v, u in zip((d, h, m, sec), units, strict=True) if v]
    return " ".join(parts[:2]) or f"0 {units[3]}"
