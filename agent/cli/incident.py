"""`pantau incident note`: a public note about an outage, for the citizens' status page."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, cli_lang, fail, load, tr

app = typer.Typer(help="Public notes about outages (shown on the citizens' status page).",
                  no_args_is_help=True)


@app.command("note")
def note(
    check: Annotated[str, typer.Argument(help="The configured check the outage is of.")],
    text: Annotated[str, typer.Argument(help='The public note, e.g. "Gangguan jaringan ISP".')],
    at: Annotated[str | None, typer.Option(
        help="A time inside the outage, e.g. '2026-11-10 14:05' (local); default: now, i.e. "
        "the current or the last outage.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Attach a public note to the current or a past outage of CHECK; it replaces the
    technical reason on the public status page and appears in /api/v1/outages and the
    monthly report (JSON per outage, CSV per check). The API has the same:
    POST /api/v1/checks/CHECK/note (docs/status-api.md)."""
    from datetime import datetime

    from agent.history import HistoryError
    from agent.status.data import add_note
    from collectors.common.timefmt import format_time, resolve_zone

    cfg = load(config)
    if check not in {c.name for c in cfg.checks}:
        raise fail(tr("unknown_check", name=check))
    text = text.strip()
    if not text or len(text) > 500:
        raise fail(tr("note_length"))
    zone = resolve_zone(cfg.reports.timezone)
    when = time.time()
    if at is not None:
        try:
            dt = datetime.fromisoformat(at)
        except ValueError:
            raise fail(tr("bad_time", what="--at", text=at, example="2026-11-10 14:05")
                       ) from None
        when = (dt if dt.tzinfo else dt.replace(tzinfo=zone)).timestamp()
    try:
        start = add_note(cfg, check, when, text)
    except LookupError:
        raise fail(tr("no_outage", check=check)) from None
    except HistoryError as e:
        raise fail(str(e), 1) from None
    typer.echo(tr("note_recorded", check=check, start=format_time(start, zone, cli_lang())))
