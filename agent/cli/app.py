"""The `pantau` command line.

Every command that reads user input turns bad input into a one-line (or one-line-per-problem)
message and exit code 2; a traceback on a user's typo is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from agent import __version__
from agent.cli import alerts as cli_alerts
from agent.cli import backup as cli_backup
from agent.cli import helpfmt
from agent.cli import incident as cli_incident
from agent.cli import install as cli_install
from agent.cli import inventory as cli_inventory
from agent.cli import path as cli_path
from agent.cli import playbook as cli_playbook
from agent.cli import probe as cli_probe
from agent.cli import report as cli_report
from agent.cli import rules as cli_rules
from agent.cli import snmp as cli_snmp
from agent.cli import ssh as cli_ssh
from agent.cli import status as cli_status
from agent.cli import status_page as cli_status_page
from agent.cli.common import (
    EXIT_BAD_INPUT,
    LANGS,
    default_state_dir,
    fail,
    load_env_beside,
    note_config_lang,
    set_lang_option,
    tr,
)

helpfmt.install()  # `--out FILE`, `TARGET`: no Python type tags in --help

app = typer.Typer(
    name="pantau",
    help="pantau watches an office server, its network gear and the path to online services, "
    "and exposes it all as Prometheus metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pantau {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version,
                           help="Print pantau's version and exit.")
    ] = False,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of the messages: id or en (default: "
                                 "PANTAU_LANG, the locale, alerts.language, English).")
    ] = None,
) -> None:
    """pantau watches an office server, its network gear and the path to online services,
    and exposes it all as Prometheus metrics."""
    if lang is not None and lang not in LANGS:
        raise fail(tr("bad_lang", value=lang))
    set_lang_option(lang)


def _effective_config(config: Path | None) -> Any:
    """Load the file, or build the embedded default (this host, its gateway, its DNS)."""
    from agent.config import AgentConfig, ConfigError, default_site, load_config
    from agent.config.discovery import default_config

    if config is not None:
        load_env_beside(config)
        try:
            cfg = load_config(config)
        except ConfigError as e:
            typer.echo(e.render(), err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        note_config_lang(cfg)
        return cfg
    data = default_config(default_site())
    data["state_dir"] = str(default_state_dir())
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as e:
        # Discovery found something we cannot turn into a check: watch the host alone
        # rather than refuse to start.
        typer.echo(tr("discovered_dropped", detail=e.errors()[0]["msg"]), err=True)
        data["checks"] = []
        return AgentConfig.model_validate(data)


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config file. Without it: watch this host, "
                     "its default gateway and its DNS resolvers."),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for /metrics (overrides the config; "
                                 "default 0.0.0.0:9877).")
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the effective config as YAML and exit.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_format: Annotated[str, typer.Option(help="text, or json (one object per line, for "
                                            "journald/Loki).")] = "text",
    enable_lifecycle: Annotated[
        bool, typer.Option("--web.enable-lifecycle",
                           help="Serve POST /-/reload (like Prometheus). Off by default: "
                           "anyone who reaches the port could reload; SIGHUP always works.")
    ] = False,
) -> None:
    """Run the agent: collect, serve /metrics, alert. Reloads its config on SIGHUP."""
    from agent import logs
    from agent.config import dump_config, parse_listen

    if log_level.lower() not in logs.LEVELS:
        raise fail(tr("bad_choice", option="--log-level", value=log_level,
                      choices=", ".join(logs.LEVELS)))
    if log_format not in logs.FORMATS:
        raise fail(tr("bad_choice", option="--log-format", value=log_format,
                      choices=", ".join(logs.FORMATS)))
    cfg = _effective_config(config)
    if listen is not None:
        try:
            parse_listen(listen)
        except ValueError as e:
            raise fail(f"--listen: {e}") from None
    if print_config:
        if listen is not None:
            cfg.listen = listen
        typer.echo(dump_config(cfg), nl=False)
        return
    from agent.statelock import StateDirBusy, StateLock

    # Before anything is written (history, outbox, monthly report): one agent per state dir.
    try:
        state_lock = StateLock.acquire(cfg.state_dir)
    except StateDirBusy as e:
        raise fail(str(e)) from None
    except OSError as e:
        raise fail(tr("state_dir_unusable", path=cfg.state_dir, detail=e.strerror)) from None
    from collectors.common.timefmt import resolve_zone

    logs.setup(log_level, log_format, resolve_zone(cfg.alerts.timezone))
    import asyncio

    from agent.runtime import Agent, file_loader

    if config is not None:
        loader = file_loader(config)
    else:
        def loader() -> Any:
            return _effective_config(None)
    agent = Agent(loader, config, listen, initial=cfg, enable_lifecycle=enable_lifecycle)
    try:
        asyncio.run(agent.run())
    except OSError as e:
        raise fail(tr("cannot_listen", addr=listen or cfg.listen, detail=e.strerror), 1
                   ) from None
    except ValueError as e:  # e.g. an unreadable web config file
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        pass
    finally:
        state_lock.release()


@app.command("check-config")
def check_config(
    file: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Errors as JSON.")] = False,
) -> None:
    """Validate a config file; print every error with its field and line. Exit 2 if invalid."""
    from agent.config import ConfigError, load_config

    load_env_beside(file)
    try:
        cfg = load_config(file)
    except ConfigError as e:
        if as_json:
            typer.echo(json.dumps([{"path": i.path, "line": i.line, "message": i.message}
                                   for i in e.issues]))
        else:
            typer.echo(e.render(), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    note_config_lang(cfg)
    if as_json:
        typer.echo("[]")
    else:
        typer.echo(tr("config_ok", file=file, site=cfg.site, checks=len(cfg.checks),
                      jobs=len(cfg.jobs())))


@app.command()
def version() -> None:
    """Print pantau's version."""
    typer.echo(f"pantau {__version__}")


@app.command()
def metrics(
    markdown: Annotated[bool, typer.Option("--markdown", help="As the docs/metrics.md table.")]
    = False,
) -> None:
    """List every metric pantau can emit (the catalogue generated from the code)."""
    from agent.catalogue import render_markdown
    from agent.runtime import all_metric_specs

    specs = all_metric_specs()
    if markdown:
        typer.echo(render_markdown(specs), nl=False)
        return
    for s in sorted({s.name: s for s in specs}.values(), key=lambda s: s.name):
        typer.echo(f"{s.name} ({s.kind}) {','.join(s.labels)}  {s.help}")


@app.command("config-reference")
def config_reference() -> None:
    """Print the configuration reference (docs/configuration.md) generated from the code."""
    from agent.config.reference import render_reference

    typer.echo(render_reference(), nl=False)


# --- sub-commands (one line each) ---
app.add_typer(cli_ssh.app, name="ssh")
app.add_typer(cli_playbook.app, name="playbook")
app.add_typer(cli_alerts.app, name="alerts")
app.command("report")(cli_report.report)
app.command("probe")(cli_probe.probe)
app.command("status")(cli_status.status)
app.command("rules")(cli_rules.rules)
app.command("path")(cli_path.path)
app.add_typer(cli_snmp.app, name="snmp")
app.add_typer(cli_report.maintenance_app, name="maintenance")
app.add_typer(cli_status_page.app, name="status-page")
app.add_typer(cli_incident.app, name="incident")
app.command("inventory")(cli_inventory.inventory)
app.command("backup")(cli_backup.backup)
app.command("restore")(cli_backup.restore)
app.command("install")(cli_install.install)
app.command("uninstall")(cli_install.uninstall)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
