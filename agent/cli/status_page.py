"""`pantau status-page`: the citizens' status page as static files for the office website."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, fail, load

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
        raise fail("the public status page is off: set status_page.public: true and list "
                   "status_page.services")
    if not cfg.status_page.services:
        raise fail("status_page.services is empty: list the services citizens should see")
    try:
        files = write(cfg, directory)
    except OSError as e:
        raise fail(f"cannot write {directory}: {e.strerror}", 1) from None
    typer.echo(f"wrote {', '.join(str(f) for f in files)}")
