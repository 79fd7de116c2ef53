"""The `pantau` command line (typer): the root commands, and the others' groups assembled.

Every command that reads user input turns bad input into a one-line (or one-line-per-problem)
message and exit code 2; a traceback on a user's typo is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

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
    # The same start as the console script's typer-free one (agent/cli/run.py).
    from agent.cli.run import RunArgs, run_agent

    run_agent(RunArgs(config, listen, print_config, log_level, log_format, enable_lifecycle))


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
