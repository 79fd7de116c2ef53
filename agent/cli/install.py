"""`pantau install` / `pantau uninstall`: the pantau user, /etc/pantau, the state dir and the
systemd unit; idempotent, so re-running it after an upgrade is the upgrade."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import fail, tr

RootOpt = Annotated[
    Path, typer.Option("--root", metavar="DIR", help="Install under this directory instead "
                       "of / (a chroot or image being built; systemd is left alone).")
]


def _exe() -> str:
    """The pantau the unit starts: the one running now (its venv, e.g. /opt/pantau)."""
    return str(Path(sys.executable).with_name("pantau"))


def install(
    root: RootOpt = Path("/"),
    no_start: Annotated[bool, typer.Option("--no-start", help="Enable but do not start.")]
    = False,
) -> None:
    """Install pantau as a service (root): user, /etc/pantau, state dir, systemd unit."""
    from agent.install import InstallError
    from agent.install import install as do_install

    try:
        report = do_install(root, _exe(), start=not no_start)
    except (InstallError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(tr("install_head",
                  what=tr("install_changes" if report.changed else "install_nothing")))
    for line in report.lines():
        typer.echo(line)
    if report.changed:
        typer.echo(tr("install_next"))


def uninstall(
    root: RootOpt = Path("/"),
    purge: Annotated[bool, typer.Option("--purge", help="Also remove /etc/pantau, the state "
                                        "dir (the outage history!) and the pantau user.")]
    = False,
) -> None:
    """Remove the pantau service; keeps config and history unless --purge."""
    from agent.install import InstallError
    from agent.install import uninstall as do_uninstall

    try:
        report = do_uninstall(root, purge=purge)
    except (InstallError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo("pantau uninstall:")
    for line in report.lines():
        typer.echo(line)
