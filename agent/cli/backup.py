"""`pantau backup FILE` / `pantau restore FILE`: the state dir (history, outbox, queues) and
the config in one archive, consistent while the agent runs; restore refuses a running agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, config_path, fail, tr

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
        state_dir = _state_dir_of(path)
    try:
        outcome = do_backup(state_dir, path, file)
    except BackupError as e:
        raise fail(str(e)) from None
    parts = [*outcome.databases, *outcome.files]
    if outcome.config:
        parts.append(tr("backup_config", path=outcome.config))
    typer.echo(tr("backup_done", file=file, parts=", ".join(parts) or tr("backup_nothing"),
                  src=state_dir))


def _state_dir_of(path: Path | None) -> Path:
    """state_dir as written in the config, without validating the rest: a backup must work
    while the config is broken or its secrets are not in this shell's environment."""
    import yaml

    from agent.config.models import DEFAULT_STATE_DIR

    if path is None:
        raise fail(tr("backup_no_config"))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise fail(tr("cannot_read", path=path, detail=getattr(e, "strerror", None) or e)
                   ) from None
    value = data.get("state_dir") if isinstance(data, dict) else None
    return Path(str(value)) if value else Path(DEFAULT_STATE_DIR)


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
        raise fail(tr("no_such_file", file=file))
    try:
        target, outcome = do_restore(file, state_dir, config_to, force=force)
    except BackupError as e:
        raise fail(str(e)) from None
    for note in outcome.notes:
        typer.echo(tr("restore_note", note=note), err=True)
    parts = ", ".join(outcome.databases + outcome.files) or tr("restore_nothing")
    typer.echo(tr("restored", parts=parts, target=target)
               + (tr("restored_config", path=outcome.config) if outcome.config else ""))
