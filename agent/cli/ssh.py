"""`pantau ssh ...`: enrol host keys in pantau's known_hosts, run one command ad hoc.

Host keys are trusted only by a person who has seen the fingerprint: `trust` shows it (and
the old one if it changed) and writes nothing until confirmed. The agent itself never adds a
key (RejectPolicy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import ConfigOpt, config_path, default_state_dir, fail, load, tr

app = typer.Typer(help="SSH: enrol host keys (trust) and run a command on a host.",
                  no_args_is_help=True)

def load_section(config: Path | None) -> tuple[Any, Path]:
    """The ssh section and the state dir, from the config file or defaults."""
    from collectors.ssh import SshSection

    config = config_path(config)
    if config is None:
        return SshSection(), default_state_dir()
    cfg = load(config)
    section: SshSection = cfg.ssh
    try:
        section.bind_checks(cfg.checks, cfg.state_dir)
    except ValueError as e:
        raise fail(f"{config}: {e}") from None
    return section, cfg.state_dir


@app.command()
def trust(
    target: Annotated[str, typer.Argument(help="HOST[:PORT] whose host key to enrol.")],
    config: ConfigOpt = None,
    known_hosts: Annotated[Path | None, typer.Option(help="known_hosts file (default: "
                           "ssh.known_hosts, else <state_dir>/known_hosts).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Enrol without asking (only when "
                   "the fingerprint was checked another way).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds for connect and key exchange.")]
    = 10.0,
) -> None:
    """Show HOST's SSH host key fingerprint and, once confirmed, trust it."""
    import paramiko

    from collectors.ssh import SshError
    from collectors.ssh.session import (
        enrol_host_key,
        fetch_host_key,
        fingerprint,
        known_hosts_name,
        parse_target,
    )

    try:
        host, port = parse_target(target)
    except ValueError as e:
        raise fail(str(e)) from None
    section, state_dir = load_section(config)
    path = known_hosts or section.known_hosts_path(state_dir)
    try:
        key = fetch_host_key(host, port, timeout)
    except SshError as e:
        raise fail(str(e), 1) from None
    name = known_hosts_name(host, port)
    typer.echo(tr("ssh_presents", name=name, alg=key.get_name(), fp=fingerprint(key)))
    old = None
    if path.exists():
        try:
            old = paramiko.HostKeys(str(path)).lookup(name)
        except (OSError, paramiko.SSHException) as e:
            raise fail(tr("cannot_read", path=path, detail=e)) from None
    if old is not None:
        if key.get_name() in old and old[key.get_name()] == key:
            typer.echo(tr("ssh_already", path=path))
            return
        for alg, k in old.items():
            typer.echo(tr("ssh_different", path=path, alg=alg, name=name, fp=fingerprint(k)))
    if not yes and not typer.confirm(tr("ssh_confirm"), default=False):
        typer.echo(tr("ssh_not_trusted"))
        raise typer.Exit(1)
    try:
        enrol_host_key(path, host, port, key)
    except OSError as e:
        raise fail(tr("cannot_write", path=path, detail=e.strerror), 1) from None
    typer.echo(tr("ssh_trusted", name=name, path=path))


@app.command("run")
def run_command(
    host: Annotated[str, typer.Argument(help="Name from ssh.hosts, or HOST[:PORT] with "
                    "--credential.")],
    command: Annotated[str, typer.Argument(help="The command to run (one argument).")],
    config: ConfigOpt = None,
    credential: Annotated[str | None, typer.Option(help="Credential name from "
                          "ssh.credentials.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before the command is killed.")]
    = 30.0,
) -> None:
    """Run one command on a host (host keys checked, output streamed, exit code passed on)."""
    import sys

    from collectors.ssh import SshError, SshSession
    from playbooks.runner import resolve_targets
    from playbooks.schema import PlaybookError

    section, state_dir = load_section(config)
    try:
        t = resolve_targets(section, [host], credential=credential)[0]
    except (PlaybookError, ValueError) as e:
        raise fail(str(e)) from None

    def out(stream: str, text: str) -> None:
        (sys.stdout if stream == "stdout" else sys.stderr).write(text)

    try:
        with SshSession(t.host, t.port, t.auth, section.known_hosts_path(state_dir),
                        section.timeouts(), wall_clock=timeout + 30,
                        max_output=section.max_output_bytes) as s:
            res = s.run(command, timeout=timeout, on_output=out)
    except SshError as e:
        raise fail(str(e), 1) from None
    if res.timed_out:
        raise fail(tr("ssh_timed_out", timeout=f"{timeout:g}"), 1)
    raise typer.Exit(res.exit_status if res.exit_status is not None else 1)
