"""Notification text in Bahasa Indonesia or English, with local office time (WIB/WITA/WIT).

Templates are jinja2 strings kept here (not files) so a wheel install needs no package data
and a typo in a template fails the unit tests, not an alert at 3 am.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from collectors.common.timefmt import format_span, format_time

if TYPE_CHECKING:
    import jinja2

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "id": {
        "firing": (
            "[{{ severity|upper }}] {{ check }} GANGGUAN di {{ site }}",
            "Cek {{ check }} di {{ site }} gagal sejak {{ since }}.\n"
            "{% if reason %}Penyebab teknis: {{ reason }}\n{% endif %}"
            "Akar masalah: {{ root_cause }}\n"
            "{% if playbook %}Playbook: {{ playbook }}\n{% endif %}"
            "{% if runbook %}Panduan: {{ runbook }}\n{% endif %}",
        ),
        "resolved": (
            "[PULIH] {{ check }} di {{ site }}",
            "Cek {{ check }} di {{ site }} pulih pada {{ at }} "
            "(gangguan sejak {{ since }}, selama {{ duration }}).\n"
            "{% if was_suppressed %}Gangguan ini disebabkan oleh {{ root_cause }} "
            "dan tidak dilaporkan terpisah.\n{% endif %}",
        ),
        "test": (
            "[TES] Notifikasi pantau dari {{ site }}",
            "Ini pesan uji dari pantau di {{ site }}, dikirim {{ at }}. "
            "Jika pesan ini sampai, penerima {{ receiver }} berfungsi.\n",
        ),
    },
    "en": {
        "firing": (
            "[{{ severity|upper }}] {{ check }} DOWN at {{ site }}",
            "Check {{ check }} at {{ site }} has been failing since {{ since }}.\n"
            "{% if reason %}Reason: {{ reason }}\n{% endif %}"
            "Root cause: {{ root_cause }}\n"
            "{% if playbook %}Playbook: {{ playbook }}\n{% endif %}"
            "{% if runbook %}Runbook: {{ runbook }}\n{% endif %}",
        ),
        "resolved": (
            "[RESOLVED] {{ check }} at {{ site }}",
            "Check {{ check }} at {{ site }} recovered at {{ at }} "
            "(down since {{ since }}, for {{ duration }}).\n"
            "{% if was_suppressed %}This outage was caused by {{ root_cause }} "
            "and was not reported separately.\n{% endif %}",
        ),
        "test": (
            "[TEST] pantau notification from {{ site }}",
            "This is a test message from pantau at {{ site }}, sent {{ at }}. "
            "If it arrived, receiver {{ receiver }} works.\n",
        ),
    },
}


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
           receiver: str = "") -> tuple[str, str]:
    """(title, body) of one notification."""
    title_t, body_t = _compiled()[(lang, kind)]
    ctx = {
        "site": site, "check": check, "severity": severity,
        "at": format_time(at, zone, lang), "since": format_time(since, zone, lang),
        "duration": format_span(at - since, lang), "root_cause": root_cause or check,
        "reason": reason, "playbook": playbook, "runbook": runbook,
        "was_suppressed": was_suppressed, "receiver": receiver,
    }
    return title_t.render(ctx).strip(), body_t.render(ctx)
