"""`pantau backup FILE` / `pantau restore FILE`: the state dir (history, outbox, queues) and
the config in one archive, consistent while the agent runs; restore refuses a running agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, config_path, fail, load

StateDirOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", help="The state dir (default: the config's state_dir)."),
]


def backup(
    file: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz).")],
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Back up history, outbox, remote-write queue and config into FILE, safe while running."""
    from agent.backup import BackupError
    from agent.backup import backup as do_backup

    path = config_path(config)
    if state_dir is None:
        state_dir = load(config).state_dir
    try:
        outcome = do_backup(state_dir, path, file)
    except BackupError as e:
        raise fail(str(e)) from None
    parts = [*outcome.databases, *outcome.files]
    if outcome.config:
        parts.append(f"config {outcome.config}")
    typer.echo(f"{file}: {', '.join(parts) or 'nothing to back up'} (from {state_dir})")


def restore(
    file: Annotated[Path, typer.Argument(help="An archive written by `pantau backup`.")],
    state_dir: StateDirOpt = None,
    config_to: Annotated[
        Path | None,
        typer.Option("--config-to", help="Where to write the archived config (default: where "
                     "it came from, or beside it as .restored when a different file is there)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace databases already in the state dir.")
    ] = False,
) -> None:
    """Restore a backup into a stopped agent's state dir (default: where it came from)."""
    from agent.backup import BackupError
    from agent.backup import restore as do_restore

    if not file.is_file():
        raise fail(f"{file}: no such file")
    try:
        target, outcome = do_restore(file, state_dir, config_to, force=force)
    except BackupError as e:
        raise fail(str(e)) from None
    for note in outcome.notes:
        typer.echo(f"pantau: note: {note}", err=True)
    typer.echo(f"restored {', '.join(outcome.databases + outcome.files) or 'nothing'} "
               f"into {target}" + (f"; config at {outcome.config}" if outcome.config else ""))
