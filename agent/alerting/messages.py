"""Notification text in Bahasa Indonesia or English, with local office time (WIB/WITA/WIT).

Templates are jinja2 strings kept here (not files) so a wheel install needs no package data
and a typo in a template fails the unit tests, not an alert at 3 am.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from collectors.common.timefmt import format_span, format_time

if TYPE_CHECKING:
    import jinja2

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "id": {
        "firing": (
            "[{{ severity }}] {% if members %}GANGGUAN {{ members|join(' dan ') }} putus semua"
            "{% else %}GANGGUAN {{ check }}{% endif %} — {{ site }}",
            "{% if members %}Semua jalur {{ members|join(' dan ') }} putus"
            "{% if office_cut_off %}: koneksi internet kantor putus total{% endif %}.\n"
            "{% else %}Pemeriksaan {{ check }} gagal.\n{% endif %}"
            "Kantor: {{ site }}\n"
            "{% for t in targets %}Target: {{ t }}\n{% endfor %}"
            "Gagal pertama: {{ first_failure }}\n"
            "Dinyatakan gangguan: {{ since }}\n"
            "{% if reason %}Penyebab teknis: {{ reason }}\n{% endif %}"
            "{% if root_line %}Akar masalah: {{ root_line }}\n{% endif %}"
            "{% if status_url %}Status: {{ status_url }}\n{% endif %}"
            "{% if dashboard_url %}Dasbor: {{ dashboard_url }}\n{% endif %}"
            "{% if playbook %}Playbook: {{ playbook }}\n{% endif %}"
            "{% if runbook %}Panduan: {{ runbook }}\n{% endif %}",
        ),
        "resolved": (
            "[PULIH] {{ check }} — {{ site }}",
            "Pemeriksaan {{ check }} di {{ site }} pulih pada {{ at }}.\n"
            "Gangguan sejak {{ first_failure }}, selama {{ duration }}.\n"
            "{% if status_url %}Status: {{ status_url }}\n{% endif %}"
            "{% if dashboard_url %}Dasbor: {{ dashboard_url }}\n{% endif %}",
        ),
        "path_change": (
            "{{ path_title }}",
            "{{ path_line }}.\n"
            "Kantor: {{ site }}\n"
            "Waktu: {{ at }}\n"
            "{{ route_new_word }}: {{ new_route }}\n"
            "{{ route_old_word }}: {{ old_route }}\n"
            "{% if dashboard_url %}Dasbor: {{ dashboard_url }}\n{% endif %}",
        ),
        "test": (
            "[TES] Notifikasi pantau dari {{ site }}",
            "Ini pesan uji dari pantau di {{ site }}, dikirim {{ at }}. "
            "Jika pesan ini sampai, penerima {{ receiver }} berfungsi.\n",
        ),
    },
    "en": {
        "firing": (
            "[{{ severity }}] {% if members %}DOWN: all of {{ members|join(' and ') }}"
            "{% else %}DOWN: {{ check }}{% endif %} — {{ site }}",
            "{% if members %}Every path is down: {{ members|join(' and ') }}"
            "{% if office_cut_off %}; the office has no internet connection at all"
            "{% endif %}.\n"
            "{% else %}Check {{ check }} is failing.\n{% endif %}"
            "Site: {{ site }}\n"
            "{% for t in targets %}Target: {{ t }}\n{% endfor %}"
            "First failure: {{ first_failure }}\n"
            "Declared down: {{ since }}\n"
            "{% if reason %}Reason: {{ reason }}\n{% endif %}"
            "{% if root_line %}Root cause: {{ root_line }}\n{% endif %}"
            "{% if status_url %}Status: {{ status_url }}\n{% endif %}"
            "{% if dashboard_url %}Dashboard: {{ dashboard_url }}\n{% endif %}"
            "{% if playbook %}Playbook: {{ playbook }}\n{% endif %}"
            "{% if runbook %}Runbook: {{ runbook }}\n{% endif %}",
        ),
        "resolved": (
            "[RESOLVED] {{ check }} — {{ site }}",
            "Check {{ check }} at {{ site }} recovered at {{ at }}.\n"
            "Down since {{ first_failure }}, for {{ duration }}.\n"
            "{% if status_url %}Status: {{ status_url }}\n{% endif %}"
            "{% if dashboard_url %}Dashboard: {{ dashboard_url }}\n{% endif %}",
        ),
        "path_change": (
            "{{ path_title }}",
            "{{ path_line }}.\n"
            "Site: {{ site }}\n"
            "At: {{ at }}\n"
            "{{ route_new_word }}: {{ new_route }}\n"
            "{{ route_old_word }}: {{ old_route }}\n"
            "{% if dashboard_url %}Dashboard: {{ dashboard_url }}\n{% endif %}",
        ),
        "test": (
            "[TEST] pantau notification from {{ site }}",
            "This is a test message from pantau at {{ site }}, sent {{ at }}. "
            "If it arrived, receiver {{ receiver }} works.\n",
        ),
    },
}

# "uplink-telkom dan uplink-indihome putus — dns, portal-perizinan terdampak"
_ROOT_LINE = {"id": ("{roots} putus — {affected} terdampak", "{roots} putus"),
              "en": ("{roots} down — {affected} affected", "{roots} down")}


def root_line(lang: str, roots: list[str], affected: list[str]) -> str:
    """The root cause named as the failed dependency with what it takes down; empty when
    the check is its own cause and nothing depends on it (the title already says it)."""
    from agent.i18n import join_words

    with_affected, alone = _ROOT_LINE["id" if lang == "id" else "en"]
    if affected:
        return with_affected.format(roots=join_words(roots, lang), affected=", ".join(affected))
    return alone.format(roots=join_words(roots, lang)) if len(roots) > 1 else ""


def _route(hops: Any) -> str:
    """10.210.0.1 > 10.210.1.1 > 10.210.12.1|10.210.2.1 > ... (ECMP alternatives with |)."""
    return " > ".join("|".join(h) or "*" for h in (hops or []))


@functools.cache
def _compiled() -> dict[tuple[str, str], tuple[jinja2.Template, jinja2.Template]]:
    """Compiled on the first message, not at start: an office whose links never fail (or
    that configures no receiver) should not carry jinja2 in memory."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
    return {
        (lang, kind): (env.from_string(t), env.from_string(b))
        for lang, kinds in TEMPLATES.items() for kind, (t, b) in kinds.items()
    }


def render(kind: str, lang: str, zone: ZoneInfo, *, site: str, check: str, at: float,
           since: float, severity: str = "critical", root_cause: str = "", reason: str = "",
           playbook: str = "", runbook: str = "", was_suppressed: bool = False,
           receiver: str = "", first_failure: float = 0.0, members: tuple[str, ...] = (),
           affected: tuple[str, ...] = (), targets: tuple[str, ...] = (),
           status_url: str = "", dashboard_url: str = "",
           office_cut_off: bool = False,
           event: dict[str, Any] | None = None) -> tuple[str, str]:
    """(title, body) of one notification, every word in `lang` (the failure reason too).
    `event`: the detail of a route change (kind "path_change")."""
    from agent.i18n import EVENTS, event_text, reason_text, severity_word

    title_t, body_t = _compiled()[(lang, kind)]
    first = first_failure or since
    roots = list(members) or [c for c in (root_cause or check).split(",") if c]
    ctx = {
        "site": site, "check": check, "severity": severity_word(severity, lang),
        "at": format_time(at, zone, lang), "since": format_time(since, zone, lang),
        "first_failure": format_time(first, zone, lang),
        "duration": format_span(at - first, lang), "root_cause": root_cause or check,
        "reason": reason_text(reason, lang), "playbook": playbook, "runbook": runbook,
        "was_suppressed": was_suppressed, "receiver": receiver,
        "members": list(members), "affected": list(affected), "targets": list(targets),
        "root_line": root_line(lang, roots, list(affected)),
        "status_url": status_url, "dashboard_url": dashboard_url,
        "office_cut_off": office_cut_off,
    }
    words = EVENTS["id" if lang == "id" else "en"]
    ev = event or {}
    ctx.update({
        "path_title": words["path_change_title"].format(check=check, site=site),
        "path_line": event_text("path_change", ev, lang) if event else "",
        "route_new_word": words["route_new"], "route_old_word": words["route_old"],
        "new_route": _route(ev.get("new")), "old_route": _route(ev.get("old")),
    })
    return title_t.render(ctx).strip(), body_t.render(ctx)
