"""What every `pantau` command group shares: the one exit code for bad input, the one
--config option, the one way to load a config and print its errors, the state dir default.

A traceback on a user's typo is a bug: every command turns bad input into one line per
problem and exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from agent.config import AgentConfig

EXIT_BAD_INPUT = 2
DEFAULT_CONFIG = Path("/etc/pantau/pantau.yml")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=f"pantau YAML config (default {DEFAULT_CONFIG} "
                 "when it exists)."),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one clear error line and return the Exit to raise."""
    typer.echo(f"pantau: error: {message}", err=True)
    return typer.Exit(code)


def config_path(config: Path | None) -> Path | None:
    """The file a command reads: the one given, else the system one when it exists."""
    if config is None and DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return config


def load_env_beside(config: Path) -> None:
    """Set the ${NAME}s of pantau.env beside the config that the environment lacks.

    systemd passes the file to the service (EnvironmentFile=); an admin running
    `pantau check-config` or `pantau alerts test` by hand would otherwise get "environment
    variable X is not set" for a config that works. What the environment sets wins."""
    env = config.parent / "pantau.env"
    try:
        text = env.read_text(encoding="utf-8")
    except OSError:
        return
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.isidentifier():
            os.environ.setdefault(key, value)


def load(config: Path | None) -> AgentConfig:
    """Load and validate the config a command needs, or exit 2 naming every problem."""
    from agent.config import ConfigError, load_config

    path = config_path(config)
    if path is None:
        raise fail(f"no config: pass --config FILE or create {DEFAULT_CONFIG}")
    load_env_beside(path)
    try:
        return load_config(path)
    except ConfigError as e:
        typer.echo(e.render(), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def default_state_dir() -> Path:
    """/var/lib/pantau when we may write there (root, packaged), else the user's state dir.

    Asked with access(2), not by writing a probe file: a second agent must not touch the
    state dir another one owns before it finds the lock (agent.statelock)."""
    system = Path("/var/lib/pantau")
    if system.is_dir():
        if os.access(system, os.W_OK | os.X_OK):
            return system
    else:
        try:
            system.mkdir(parents=True)
            return system
        except OSError:
            pass
    return Path.home() / ".local" / "state" / "pantau"
