"""`pantau run`: the agent's start, without typer.

The agent is a long-running process; typer (with its vendored click) and the other commands'
modules, which only parse the command line, would stay in its memory for its whole life
(~2.5 MiB of a ~48 MiB host-only agent, BENCHMARKS.md "RSS of host-only `pantau run`"). So the
console script (agent/cli/__init__.py) first asks `parse` whether the arguments are a plain
`[--lang L] run [options]` that it reads exactly as click would; only then does it start the
agent from here. Everything else -- other commands, --help, --version, --print-config, an
unknown, repeated or misspelt option, a missing value, a value that starts with "-" -- goes to
typer unchanged, so its help and error messages stay what they were. The typer `run` command
(agent/cli/root.py) calls the same `run_agent`: one implementation, two ways to reach it.
tests/unit/test_cli_run_fast.py compares `parse` with click's own parsing of the same argv.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli.base import (
    EXIT_BAD_INPUT,
    LANGS,
    default_state_dir,
    echo,
    echo_error,
    load_env_beside,
    note_config_lang,
    set_lang_option,
    tr,
)


@dataclass(frozen=True)
class RunArgs:
    """The options of `pantau run`, with the defaults its typer command declares."""

    config: Path | None = None
    listen: str | None = None
    print_config: bool = False
    log_level: str = "info"
    log_format: str = "text"
    enable_lifecycle: bool = False


# Option spellings as the typer command declares them (root.py); a test keeps them in step.
_VALUED = {"--config": "config", "-c": "config", "--listen": "listen",
           "--log-level": "log_level", "--log-format": "log_format"}
_FLAGS = {"--print-config": "print_config", "--web.enable-lifecycle": "enable_lifecycle"}


def parse(argv: Sequence[str]) -> tuple[str | None, RunArgs] | None:
    """(--lang, run's options) for `[--lang L] run [options]` in a form read here exactly as
    click reads it; None for anything else, which is then typer's to parse and answer."""
    if any(k.endswith("_COMPLETE") for k in os.environ):
        return None  # a shell-completion request (click answers those before parsing)
    lang: str | None = None
    i = 0
    while i < len(argv) and argv[i] != "run":
        if argv[i] == "--lang" and i + 1 < len(argv) and lang is None:
            lang = argv[i + 1]
            i += 2
        elif argv[i].startswith("--lang=") and lang is None:
            lang = argv[i][len("--lang="):]
            i += 1
        else:
            return None
    if i >= len(argv) or (lang is not None and (lang not in LANGS)):
        return None  # no `run`, or a --lang the root command rejects with its own message
    i += 1
    values: dict[str, Any] = {}
    while i < len(argv):
        arg = argv[i]
        value: str | bool
        if arg in _FLAGS:
            key, value = _FLAGS[arg], True
            i += 1
        elif arg in _VALUED and i + 1 < len(argv):
            key, value = _VALUED[arg], argv[i + 1]
            i += 2
        elif arg.startswith("--") and arg.partition("=")[0] in _VALUED:
            key, value = _VALUED[arg.partition("=")[0]], arg.partition("=")[2]
            i += 1
        else:
            return None  # --help, an unknown option, a stray argument, a missing value, "--"
        if key in values or (value is not True and (not value or value.startswith("-"))):
            return None  # repeated (click keeps the last), empty, or looks like an option
        values[key] = value
    if "config" in values:
        values["config"] = Path(values["config"])
    args = RunArgs(**values)
    if args.print_config:
        return None  # prints and exits: typer's to answer, the agent does not start
    return lang, args


def main_without_typer(argv: Sequence[str]) -> bool:
    """Run the agent if `argv` is a `pantau run` that `parse` reads; False (nothing done) when
    it is typer's to handle."""
    parsed = parse(argv)
    if parsed is None:
        return False
    lang, args = parsed
    set_lang_option(lang)  # what the root command's callback does with --lang
    try:
        run_agent(args)
    except KeyboardInterrupt:
        # before the agent's loop runs (config load, imports): typer exits 130, silently
        raise SystemExit(130) from None
    return True


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> SystemExit:
    """Print one clear error line and return the exit to raise (as common.fail, without typer:
    SystemExit leaves typer's command and the console script alike with that code)."""
    echo_error(message)
    return SystemExit(code)


def effective_config(config: Path | None) -> Any:
    """Load the file, or build the embedded default (this host, its gateway, its DNS)."""
    from pydantic import ValidationError

    from agent.config import AgentConfig, ConfigError, default_site, load_config
    from agent.config.discovery import default_config

    if config is not None:
        load_env_beside(config)
        try:
            cfg = load_config(config)
        except ConfigError as e:
            echo(e.render(), err=True)
            raise SystemExit(EXIT_BAD_INPUT) from None
        note_config_lang(cfg)
        return cfg
    data = default_config(default_site())
    data["state_dir"] = str(default_state_dir())
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as e:
        # Discovery found something we cannot turn into a check: watch the host alone
        # rather than refuse to start.
        echo(tr("discovered_dropped", detail=e.errors()[0]["msg"]), err=True)
        data["checks"] = []
        return AgentConfig.model_validate(data)


def run_agent(args: RunArgs) -> None:
    """Run the agent: collect, serve /metrics, alert. Reloads its config on SIGHUP."""
    from agent import logs
    from agent.config import dump_config, parse_listen

    if args.log_level.lower() not in logs.LEVELS:
        raise _fail(tr("bad_choice", option="--log-level", value=args.log_level,
                       choices=", ".join(logs.LEVELS)))
    if args.log_format not in logs.FORMATS:
        raise _fail(tr("bad_choice", option="--log-format", value=args.log_format,
                       choices=", ".join(logs.FORMATS)))
    config, listen = args.config, args.listen
    cfg = effective_config(config)
    if listen is not None:
        try:
            parse_listen(listen)
        except ValueError as e:
            raise _fail(f"--listen: {e}") from None
    if args.print_config:
        if listen is not None:
            cfg.listen = listen
        echo(dump_config(cfg), nl=False)
        return
    from agent.statelock import StateDirBusy, StateLock

    # Before anything is written (history, outbox, monthly report): one agent per state dir.
    try:
        state_lock = StateLock.acquire(cfg.state_dir)
    except StateDirBusy as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(tr("state_dir_unusable", path=cfg.state_dir, detail=e.strerror)) from None
    from collectors.common.timefmt import resolve_zone

    logs.setup(args.log_level, args.log_format, resolve_zone(cfg.alerts.timezone))
    import asyncio

    from agent.runtime import Agent, file_loader

    if config is not None:
        loader = file_loader(config)
    else:
        def loader() -> Any:
            return effective_config(None)
    agent = Agent(loader, config, listen, initial=cfg, enable_lifecycle=args.enable_lifecycle)
    try:
        asyncio.run(agent.run())
    except OSError as e:
        raise _fail(tr("cannot_listen", addr=listen or cfg.listen, detail=e.strerror), 1
                    ) from None
    except ValueError as e:  # e.g. an unreadable web config file
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        pass
    finally:
        state_lock.release()
