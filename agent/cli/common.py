"""What every `pantau` command group shares: the one exit code for bad input, the one
--config option, the one way to load a config and print its errors, the state dir default,
and the language of the messages meant for people (cli_lang, tr).

A traceback on a user's typo is a bug: every command turns bad input into one line per
problem and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# The typer-free part, shared with `pantau run`'s start (agent/cli/run.py); re-exported, so the
# commands keep importing everything from here.
from agent.cli.base import (
    DEFAULT_CONFIG,
    EXIT_BAD_INPUT,
    LANGS,
    cli_lang,
    config_path,
    default_state_dir,
    load_env_beside,
    note_config_lang,
    set_lang_option,
    state_word,
    tr,
)

if TYPE_CHECKING:
    from agent.config import AgentConfig

__all__ = ["DEFAULT_CONFIG", "EXIT_BAD_INPUT", "LANGS", "ConfigOpt", "cli_lang", "config_path",
           "default_state_dir", "fail", "load", "load_env_beside", "note_config_lang",
           "set_lang_option", "state_word", "tr"]

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=f"pantau YAML config (default {DEFAULT_CONFIG} "
                 "when it exists)."),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one clear error line and return the Exit to raise."""
    typer.echo(tr("error", message=message), err=True)
    return typer.Exit(code)


def load(config: Path | None) -> AgentConfig:
    """Load and validate the config a command needs, or exit 2 naming every problem."""
    from agent.config import ConfigError, load_config

    path = config_path(config)
    if path is None:
        raise fail(tr("no_config", path=DEFAULT_CONFIG))
    load_env_beside(path)
    try:
        cfg = load_config(path)
    except ConfigError as e:
        typer.echo(e.render(), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    note_config_lang(cfg)
    return cfg
