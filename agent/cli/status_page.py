"""`pantau status-page`: the citizens' status page as static files for the office website."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, fail, load, tr

app = typer.Typer(help="The public status page for citizens (status_page: in the config).",
                  no_args_is_help=True)


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Directory to write index.html, en.html "
                                              "and status.json into.")],
    config: ConfigOpt = None,
) -> None:
    """Write the public status page (services, 90 days of daily bars, incidents, planned
    maintenance) from the outage history, for a static host. Only what status_page.services
    publishes appears; no addresses, host names or technical reasons unless configured."""
    from agent.status.public import export as write

    cfg = load(config)
    if not cfg.status_page.public:
        raise fail(tr("public_off"))
    if not cfg.status_page.services:
        raise fail(tr("public_no_services"))
    try:
        files = write(cfg, directory)
    except OSError as e:
        raise fail(tr("cannot_write", path=directory, detail=e.strerror), 1) from None
    typer.echo(tr("files_written", files=", ".join(str(f) for f in files)))
