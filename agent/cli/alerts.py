"""`pantau alerts ...`: send a test notification, read the outage history.

`alerts test` sends directly (not through the outbox) and says what went wrong, because an
admin setting up Telegram or SMTP wants the answer now, not a retry in five minutes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, cli_lang, fail, load, state_word, tr

app = typer.Typer(help="Alert receivers and outage history.", no_args_is_help=True)



@app.command("test")
def test_receiver(
    receiver: Annotated[str, typer.Argument(help="Receiver name from alerts.receivers.")],
    config: ConfigOpt = None,
) -> None:
    """Send a test message to RECEIVER now and report the result."""
    from agent.alerting import Alerting, make_notifier
    from agent.store import Store
    from exporters.notify import DeliveryError

    cfg = load(config)
    receivers = {r.name: r for r in cfg.alerts.receivers}
    if receiver not in receivers:
        known = ", ".join(receivers) or tr("none_configured")
        raise fail(tr("unknown_receiver", name=receiver, known=known))
    try:
        alerting = Alerting(cfg, Store(cfg.site), None, cfg.site)
    except ValueError as e:  # e.g. depends_on_any naming an unknown check
        raise fail(str(e)) from None
    note = alerting.test_notification(receiver)
    notifier = make_notifier(receivers[receiver])

    async def send() -> None:
        try:
            await notifier.send(note, 30.0)
        finally:
            await notifier.aclose()

    try:
        asyncio.run(send())
    except DeliveryError as e:
        raise fail(tr("receiver_failed", name=receiver, detail=e), 1) from None
    typer.echo(tr("test_sent", name=receiver))


@app.command("history")
def history(
    config: ConfigOpt = None,
    check: Annotated[str | None, typer.Option(help="Only this check.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent N rows.", min=1)] = 50,
    notifications: Annotated[
        bool, typer.Option("--notifications", help="Show notifications and deliveries.")
    ] = False,
) -> None:
    """Show recorded state changes (or notifications) from the outage history."""
    from agent.history import History, HistoryError
    from agent.i18n import event_text, reason_text
    from collectors.common.timefmt import resolve_zone

    cfg = load(config)
    zone = resolve_zone(cfg.alerts.timezone)
    try:
        h = History.open(cfg.state_dir, cfg.site, readonly=True)
    except HistoryError as e:
        raise fail(str(e)) from None

    def ts(v: float | None) -> str:
        return datetime.fromtimestamp(v, zone).strftime("%Y-%m-%d %H:%M:%S") if v else "-"

    when = tr("col_time", tz=cfg.alerts.timezone)
    try:
        if notifications:
            rows = h.notifications(limit)
            typer.echo(f"{when:19}  {tr('col_check'):20} {tr('col_kind'):8} "
                       f"{tr('col_receiver'):12} {tr('col_status'):9} {tr('col_tries'):5}  "
                       f"{tr('col_error')}")
            for r in rows:
                if check and r["check_name"] != check:
                    continue
                typer.echo(f"{ts(r['ts']):19}  {r['check_name']:20} {r['kind']:8} "
                           f"{r['receiver']:12} {r['status']:9} {r['attempts']:5}  "
                           f"{r['last_error'][:60]}")
            return
        lang = cli_lang()
        lines = []
        for c in h.state_changes(check=check, limit=limit):
            change = f"{state_word(c.old).lower()}->{state_word(c.new).lower()}"
            lines.append((c.ts, f"{ts(c.ts):19}  {c.check:20} {change:26} "
                                f"{c.root_cause:16} {reason_text(c.reason, lang)[:60]}"))
        try:  # route changes and other events, between the state changes in time order
            lines += [(e.ts, f"{ts(e.ts):19}  {e.check:20} {'(' + e.kind + ')':26} "
                             f"{'':16} {event_text(e.kind, e.detail, lang)[:80]}")
                      for e in h.events(check=check, limit=limit)]
        except sqlite3.Error:  # a history from before events
            pass
        typer.echo(f"{when:19}  {tr('col_check'):20} {tr('col_change'):26} "
                   f"{tr('col_root_cause'):16} {tr('col_reason')}")
        for _, line in sorted(lines, key=lambda x: x[0])[-limit:]:
            typer.echo(line)
    finally:
        h.close()
