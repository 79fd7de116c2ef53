"""`pantau status`: every configured check's state as the agent last recorded it, for the
admin at the office server's console (the live page is `/`, the citizens' page `/status`)."""

from __future__ import annotations

import time

import typer

from agent.cli.common import ConfigOpt, cli_lang, fail, load, state_word, tr


def status(config: ConfigOpt = None) -> None:
    """Show each check's state, since when and its root cause, from the outage history."""
    from agent.history import DB_NAME, History, HistoryError
    from collectors.common.timefmt import format_span, format_time, resolve_zone

    cfg = load(config)
    lang = cli_lang()
    zone = resolve_zone(cfg.alerts.timezone)
    if not (cfg.state_dir / DB_NAME).exists():
        raise fail(tr("status_none"), 1)
    try:
        h = History.open(cfg.state_dir, cfg.site, readonly=True)
    except HistoryError as e:
        raise fail(str(e), 1) from None
    names = [c.name for c in cfg.checks]
    try:
        rows = {r.check: (r.state, r.since, r.root_cause) for r in h.status()}
        # a history written before check_status existed: its last state change says it
        for n in names:
            if n not in rows and (last := h.state_changes(check=n, limit=1)):
                rows[n] = (last[0].new, last[0].ts, last[0].root_cause)
    finally:
        h.close()
    states = {n: rows[n][0] if n in rows else "unknown" for n in names}
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("up", "down")}
    typer.echo(tr("status_summary", site=cfg.site, up=counts["up"], down=counts["down"],
                  unknown=len(names) - counts["up"] - counts["down"]))
    width = max([len(tr("col_check")), *(len(n) for n in names)]) + 2
    typer.echo(f"{tr('col_check'):{width}}{tr('col_state'):18}{tr('col_since'):40}"
               f"{tr('col_root_cause')}")
    now = time.time()
    for n in names:
        _, at, root = rows.get(n, ("unknown", 0.0, ""))
        since = f"{format_time(at, zone, lang)} ({format_span(now - at, lang)})" if at else ""
        cause = root if states[n] == "down" else ""
        typer.echo(f"{n:{width}}{state_word(states[n]):18}{since:40}{cause}".rstrip())
