"""What the `pantau` commands share that needs no typer: the exit code for bad input, the
messages' language (cli_lang, tr), the state dir default, pantau.env beside a config, and how an
error line is printed. `pantau run` starts through agent/cli/run.py without typer (the agent
process does not keep the command line's ~2.5 MiB), so what it needs lives here; common.py
adds the typer parts (the --config option, fail, load) for the other commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import AgentConfig

EXIT_BAD_INPUT = 2
DEFAULT_CONFIG = Path("/etc/pantau/pantau.yml")


# The language of the messages, first answer wins:
#   1. `pantau --lang id|en COMMAND` (the admin's choice for this run)
#   2. PANTAU_LANG=id|en in the environment
#   3. the locale: LC_ALL, LC_MESSAGES or LANG naming Indonesian (id_ID...) or English (en_*);
#      C, POSIX and C.UTF-8 say nothing about a language and are skipped
#   4. `alerts.language` when the config file sets it (the office's language), for commands
#      that read the config
#   5. English.
# The config's default (id) does not count: only what a file writes, so a command gives the
# same language before and after it reads a config that does not choose one.
_chosen: dict[str, str | None] = {"option": None, "config": None}
LANGS = ("id", "en")


def set_lang_option(lang: str | None) -> None:
    _chosen["option"] = lang
    _chosen["config"] = None


def _from_locale() -> str | None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if not value:
            continue
        code = value.split(".", 1)[0].split("_", 1)[0].lower()
        return code if code in LANGS else None
    return None


def cli_lang() -> str:
    env = os.environ.get("PANTAU_LANG", "").strip().lower()
    return (_chosen["option"] or (env if env in LANGS else None) or _from_locale()
            or _chosen["config"] or "en")


def note_config_lang(cfg: AgentConfig) -> None:
    """Remember the config's alerts.language if the file sets it (see the order above)."""
    alerts = getattr(cfg, "alerts", None)
    if alerts is not None and "language" in alerts.model_fields_set:
        _chosen["config"] = alerts.language


def tr(key: str, **params: object) -> str:
    """A message meant for people, in the language cli_lang() chose."""
    from agent.i18n import cli_text

    return cli_text(key, cli_lang(), **params)


def state_word(state: str) -> str:
    """up/down/unknown as people read them ("NORMAL", "GANGGUAN"...); others unchanged."""
    from agent.i18n import CLI

    key = f"state_{state}"
    return tr(key) if key in CLI["en"] else state


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    """Text to stdout or stderr as typer.echo writes it: the text (+ newline), flushed. (The
    messages carry no colour codes, so there is nothing for it to strip.) On a stream that
    cannot encode the text (an ASCII locale), UTF-8 with replacements, as click does there."""
    stream = sys.stderr if err else sys.stdout
    text = message + "\n" if nl else message
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.flush()
        stream.buffer.write(text.encode("utf-8", "replace"))
    stream.flush()


def echo_error(message: str) -> None:
    """The one clear error line of a command (stderr)."""
    echo(tr("error", message=message), err=True)


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


SYSTEM_STATE_DIR = Path("/var/lib/pantau")


def default_state_dir() -> Path:
    """/var/lib/pantau when we may write there (root, packaged), else the user's state dir.

    Only decided here, never made: printing a config (`run --print-config`) or enrolling a
    host key into a file given on the command line must leave no directory behind; the agent
    makes its state dir when it takes it (agent.statelock). Asked with access(2), not by
    writing a probe file: a second agent must not touch the state dir another one owns
    before it finds the lock."""
    system = SYSTEM_STATE_DIR
    if system.is_dir():
        if os.access(system, os.W_OK | os.X_OK):
            return system
    elif not system.exists() and os.access(system.parent, os.W_OK | os.X_OK):
        return system
    return Path.home() / ".local" / "state" / "pantau"
