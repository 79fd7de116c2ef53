"""The public status page for citizens: /status and `pantau status-page export DIR`.

Built only from what the office chose to publish (`status_page.services`: a check and its
public name), so nothing internal can leak by accident: no check names, no targets, no
addresses, no root causes, and the technical reason of an outage or a maintenance only when
the config says so for that service. The page is one HTML file with its CSS and logo inline and
no script, so it works from file://, from a cheap static host, and offline.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from agent.i18n import PUBLIC_PAGE, reason_text
from collectors.common.timefmt import format_span, format_time, resolve_zone

if TYPE_CHECKING:
    from agent.config import AgentConfig

log = logging.getLogger(__name__)

LOGO_MAX_BYTES = 200 * 1024
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".svg": "image/svg+xml", ".webp": "image/webp"}

WORDS = PUBLIC_PAGE  # agent/i18n.py holds the words


@dataclass
class PublicIncident:
    service: str
    start: float
    end: float | None
    note: str  # `pantau incident note` (or the API's POST)
    reason: str = ""  # the technical reason, only if the service allows it (shown by its code)


@dataclass
class PublicService:
    name: str
    description: str
    state: str  # up, down, maintenance, unknown
    availability: float | None
    daily: list[tuple[float, float | None]] = field(default_factory=list)  # (day start, ratio)


@dataclass
class PublicWindow:
    start: float
    end: float
    services: list[str]
    note: str


@dataclass
class PublicData:
    office: str
    logo: str  # data: URI or ""
    zone: str
    generated: float
    days: int
    services: list[PublicService]
    incidents: list[PublicIncident]
    maintenance: list[PublicWindow]


def _logo(path: Path | None) -> str:
    if path is None:
        return ""
    mime = _MIME.get(path.suffix.lower())
    try:
        data = path.read_bytes()
    except OSError as e:
        log.warning("status page: logo %s not readable: %s", path, e.strerror)
        return ""
    if mime is None or len(data) > LOGO_MAX_BYTES:
        log.warning("status page: logo %s must be PNG, JPEG, SVG or WebP up to 200 KB", path)
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _recorded_states(cfg: AgentConfig) -> dict[str, str]:
    """The last recorded state per check, for an export made outside the agent."""
    from agent.history import History, HistoryError

    try:
        hist = History.open(cfg.state_dir, cfg.site, readonly=True)
    except HistoryError:
        return {}
    try:
        return {r.check: r.state for r in hist.status()}
    finally:
        hist.close()


def gather(cfg: AgentConfig, now: float, live: dict[str, str] | None = None) -> PublicData:
    """Everything the public page shows. `live`: the agent's current states (up, down,
    unreachable, maintenance, unknown); without it the last recorded ones."""
    from agent.reports.availability import compute, day_spans
    from agent.reports.history_source import sites_from_history
    from agent.status.data import maintenance_windows

    sp = cfg.status_page
    zone = resolve_zone(cfg.reports.timezone)
    today = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0,
                                                      microsecond=0)
    start = (today - timedelta(days=sp.days - 1)).replace(hour=0)
    period = (start, (today + timedelta(days=1, hours=2)).replace(hour=0))
    when = datetime.fromtimestamp(now, zone)
    windows = [m for _, m in maintenance_windows(cfg)]
    states = live if live is not None else _recorded_states(cfg)
    sites = sites_from_history(cfg, period, now=when)
    site = sites[0] if sites else None
    days = day_spans(period)
    services: list[PublicService] = []
    incidents: list[PublicIncident] = []
    active = {c for m in windows if m.start <= when < m.end
              for c in (m.checks or [s.check for s in sp.services])}
    for svc in sp.services:
        state = states.get(svc.check, "unknown")
        state = {"suppressed": "down", "unreachable": "down"}.get(state, state)
        if svc.check in active:
            state = "maintenance"
        if state not in ("up", "down", "maintenance"):
            state = "unknown"
        slo = cfg.reports.slo_per_check.get(svc.check, cfg.reports.slo)
        figures = None
        if site is not None:
            figures = compute(svc.check, site.site, slo, period, site.outages, windows,
                              site.monitored_from.get(svc.check), when, days)
        services.append(PublicService(
            svc.name, svc.description, state, figures.availability if figures else None,
            [(d.timestamp(), r) for d, r in figures.daily] if figures else []))
        for o in (figures.outages if figures else []):
            if o.downtime <= 0:
                continue  # entirely inside planned maintenance
            # the office's own words first; the technical reason only when allowed
            incidents.append(PublicIncident(svc.name, o.outage.start.timestamp(),
                                            o.outage.end.timestamp() if o.outage.end else None,
                                            o.outage.note,
                                            o.outage.reason if svc.show_reason else ""))
    names = {s.check: s.name for s in sp.services}
    maint = []
    for m in windows:
        if m.end <= when:
            continue
        covered = [names[c] for c in m.checks if c in names] if m.checks else list(names.values())
        if covered:
            maint.append(PublicWindow(m.start.timestamp(), m.end.timestamp(), covered,
                                      m.reason if sp.show_maintenance_reason else ""))
    incidents.sort(key=lambda i: -i.start)
    return PublicData(sp.office or cfg.site, _logo(sp.logo), cfg.reports.timezone, now,
                      sp.days, services, incidents, sorted(maint, key=lambda w: w.start))


_CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:#1b1f23;background:#f6f7f9}
header,main,footer{max-width:48rem;margin:0 auto;padding:.8rem 1rem}
header{display:flex;align-items:center;gap:.8rem;flex-wrap:wrap}
header img{max-height:56px;max-width:160px}
h1{font-size:1.3rem;margin:0;overflow-wrap:anywhere;flex:1 1 12rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
.overall{padding:.7rem 1rem;border-radius:6px;font-weight:600;border:1px solid}
.overall.up{background:#dafbe1;border-color:#1a7f37}
.overall.down{background:#ffebe9;border-color:#cf222e}
.svc{background:#fff;border:1px solid #d6d9de;border-radius:6px;padding:.6rem .8rem;
margin:.5rem 0}
.svc .top{display:flex;justify-content:space-between;flex-wrap:wrap;gap:.3rem}
.svc .name{font-weight:600;overflow-wrap:anywhere}
.st{font-weight:600;white-space:nowrap}
.st.up{color:#1a7f37}.st.down{color:#cf222e}.st.maintenance{color:#0969da}
.st.unknown{color:#57606a}
.desc{font-size:.9rem;color:#444;margin:.1rem 0 .3rem}
svg.bars{width:100%;height:34px;display:block}
.sum{font-size:.85rem;color:#444}
ul.list{padding-left:1.1rem}ul.list li{margin:.3rem 0;overflow-wrap:anywhere}
footer{font-size:.8rem;color:#555}
"""


def _pct(ratio: float | None, lang: str) -> str:
    from agent.reports.render import fmt_percent

    return fmt_percent(ratio, lang)  # type: ignore[arg-type]


def _bars(svc: PublicService, data: PublicData, lang: str) -> str:
    import html

    zone = resolve_zone(data.zone)
    n = max(len(svc.daily), 1)
    parts = []
    for i, (day, ratio) in enumerate(svc.daily):
        colour = ("#d0d7de" if ratio is None else "#2da44e" if ratio >= 0.9995
                  else "#d4a72c" if ratio >= 0.99 else "#cf222e")
        label = f"{format_time(day, zone, lang).rsplit(' ', 2)[0]}: " + \
            (WORDS[lang]["nodata"] if ratio is None else _pct(ratio, lang))
        parts.append(f'<rect x="{i * 3}" y="0" width="2" height="30" fill="{colour}">'
                     f"<title>{html.escape(label)}</title></rect>")
    return (f'<svg class="bars" viewBox="0 0 {n * 3 - 1} 30" preserveAspectRatio="none" '
            f'role="img" aria-label="{html.escape(WORDS[lang]["days"].format(n=data.days))}">'
            + "".join(parts) + "</svg>")


def render_public(data: PublicData, lang: str, other_href: str | None = None) -> str:
    """One self-contained HTML page. `other_href`: where the other language is."""
    import html  # ~0.5 MiB (html.entities): loaded by the first page, not by every agent

    w = WORDS[lang]
    zone = resolve_zone(data.zone)
    esc = html.escape
    other = other_href or ("?lang=en" if lang == "id" else "?lang=id")
    down = any(s.state == "down" for s in data.services)
    out = [f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
           '<meta name="viewport" content="width=device-width,initial-scale=1">'
           f"<title>{esc(w['title'])} \u2014 {esc(data.office)}</title>"
           f"<style>{_CSS}</style></head><body><header>"]
    if data.logo:
        out.append(f'<img src="{esc(data.logo)}" alt="{esc(data.office)}">')
    out.append(f"<h1>{esc(w['title'])} \u2014 {esc(data.office)}</h1>"
               f'<a href="{esc(other)}" hreflang="{"en" if lang == "id" else "id"}">'
               f"{esc(w['other'])}</a></header><main>")
    out.append(f'<p class="overall {"down" if down else "up"}" role="status">'
               f"{esc(w['some_down'] if down else w['all_up'])}</p>")
    for s in data.services:
        out.append(f'<section class="svc" data-state="{s.state}"><div class="top">'
                   f'<span class="name">{esc(s.name)}</span>'
                   f'<span class="st {s.state}">{esc(w[s.state])}</span></div>')
        if s.description:
            out.append(f'<p class="desc">{esc(s.description)}</p>')
        out.append(_bars(s, data, lang))
        out.append(f'<p class="sum">{esc(w["days"].format(n=data.days))}: '
                   f"{esc(_pct(s.availability, lang))}</p></section>")
    out.append(f"<h2>{esc(w['maint'])}</h2>")
    if data.maintenance:
        out.append('<ul class="list">')
        for m in data.maintenance:
            out.append(f"<li>{esc(format_time(m.start, zone, lang))} \u2013 "
                       f"{esc(format_time(m.end, zone, lang))}: {esc(', '.join(m.services))}"
                       + (f" \u00B7 {esc(m.note)}" if m.note else f" \u00B7 {esc(w['planned'])}")
                       + "</li>")
        out.append("</ul>")
    else:
        out.append(f"<p>{esc(w['no_maint'])}</p>")
    out.append(f"<h2>{esc(w['incidents'])}</h2>")
    if data.incidents:
        out.append('<ul class="list">')
        for i in data.incidents:
            span = (i.end or data.generated) - i.start
            end = esc(format_time(i.end, zone, lang)) if i.end else esc(w["ongoing"])
            said = i.note or reason_text(i.reason, lang) or w["incident"]
            out.append(f"<li><b>{esc(i.service)}</b> \u2014 {esc(said)}<br>"
                       f"{esc(w['start'])}: {esc(format_time(i.start, zone, lang))} \u00B7 "
                       f"{esc(w['end'])}: {end} \u00B7 {esc(w['duration'])}: "
                       f"{esc(format_span(span, lang))}</li>")
        out.append("</ul>")
    else:
        out.append(f"<p>{esc(w['no_incidents'].format(n=data.days))}</p>")
    out.append(f"</main><footer>{esc(w['updated'])} "
               f"{esc(format_time(data.generated, zone, lang))}</footer></body></html>")
    return "".join(out)


def export(cfg: AgentConfig, directory: Path, now: float | None = None,
           live: dict[str, str] | None = None) -> list[Path]:
    """Write index.html (Bahasa Indonesia), en.html and status.json into `directory`; each
    file is replaced atomically, so a web server never serves half a page."""
    data = gather(cfg, time.time() if now is None else now, live)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "index.html": render_public(data, "id", "en.html"),
        "en.html": render_public(data, "en", "index.html"),
        "status.json": json.dumps({"version": 1, **asdict(data)}, ensure_ascii=False,
                                  indent=1),
    }
    written = []
    for name, text in files.items():
        path = directory / name
        tmp = directory / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
